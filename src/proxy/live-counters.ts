// Connections whose bytes native code moves (the splice pump, the native forwarder) update their
// lease's byte counters from here, once a second, so that status and metrics see a long transfer
// grow rather than jump at its end. One timer for all of them, running only while there are any.

export interface Counted {
  /** Copies the native byte counts into the lease. */
  refreshCounters(): void;
}

const REFRESH_MS = 1000;
const live = new Set<Counted>();
let timer: NodeJS.Timeout | undefined;

export function watchCounters(connection: Counted): void {
  live.add(connection);
  if (timer !== undefined) return;
  timer = setInterval(() => {
    for (const c of live) c.refreshCounters();
    if (live.size === 0) {
      clearInterval(timer);
      timer = undefined;
    }
  }, REFRESH_MS);
  timer.unref();
}

export function unwatchCounters(connection: Counted): void {
  live.delete(connection);
}
