// --exit-idle-time (as systemd-socket-proxyd's): portwake exits once every service has been idle
// that long and no connection is open, so a socket-activated portwake goes away when unused and
// the .socket starts it again on the next connection. Pure policy plus one timer on an injected clock.

import type { Clock, TimerHandle } from '../core/clock.ts';
import type { ServiceStatus } from '../core/status.ts';

export type ExitIdleView = Pick<ServiceStatus, 'state' | 'openConnections' | 'heldConnections' | 'lastActivity' | 'idleDeadline'>;

export type ExitIdleDecision =
  | { kind: 'exit' }
  /** checkAt: when to decide again (epoch ms); undefined: only when something changes. */
  | { kind: 'wait'; checkAt: number | undefined; reason: string };

/**
 * Busy (never exit): a connection open or held, a service starting, stopping, pausing or unpausing, or a service whose
 * idle stop is still pending (exiting then would leave its container running). Otherwise portwake
 * exits once the latest activity of any service — or `since`, when portwake started — is idleMs ago.
 */
export function exitIdleDecision(services: readonly ExitIdleView[], now: number, idleMs: number, since: number): ExitIdleDecision {
  let last = since;
  for (const s of services) {
    if (s.openConnections > 0 || s.heldConnections > 0) return { kind: 'wait', checkAt: undefined, reason: 'connections are open' };
    if (s.state === 'starting' || s.state === 'stopping' || s.state === 'pausing' || s.state === 'unpausing') return { kind: 'wait', checkAt: undefined, reason: `a service is ${s.state}` };
    // Paused with stopAfter pending: its stop is still due (paused without one, it is left paused: the next start unpauses it).
    if ((s.state === 'ready' || s.state === 'paused') && s.idleDeadline !== undefined) {
      return { kind: 'wait', checkAt: undefined, reason: 'a container is still waiting for its idle stop' };
    }
    if (s.lastActivity !== undefined && s.lastActivity > last) last = s.lastActivity;
  }
  const due = last + idleMs;
  return now >= due ? { kind: 'exit' } : { kind: 'wait', checkAt: due, reason: 'idle, not long enough yet' };
}

export interface ExitIdleTimerOptions {
  idleMs: number;
  clock: Clock;
  /** The current view of every service. */
  services: () => readonly ExitIdleView[];
  /** Called once, when portwake should exit. */
  onExit: () => void;
}

/**
 * Keeps one timer armed for the next moment the decision can change by itself; the daemon calls
 * poke() on every event (connection open/close, state change) so changes are seen at once. While
 * busy it also re-checks every idleMs, counting idleness from the last time it saw it busy: a
 * change that comes with no event (a held connection let go) still ends in an exit.
 */
export class ExitIdleTimer {
  private handle: TimerHandle | undefined;
  private done = false;
  /** Start, or the last moment something was seen busy: idleness counts from here at the earliest. */
  private since: number;

  constructor(private readonly o: ExitIdleTimerOptions) {
    this.since = o.clock.now();
    this.poke();
  }

  /** Decides again now. No-op after exit or stop(). */
  poke(): void {
    if (this.done) return;
    this.handle?.cancel();
    this.handle = undefined;
    const now = this.o.clock.now();
    const d = exitIdleDecision(this.o.services(), now, this.o.idleMs, this.since);
    if (d.kind === 'exit') {
      this.done = true;
      this.o.onExit();
      return;
    }
    if (d.checkAt === undefined) this.since = now;
    const checkAt = d.checkAt ?? now + this.o.idleMs;
    this.handle = this.o.clock.setTimer(checkAt - now, () => this.poke());
  }

  stop(): void {
    this.done = true;
    this.handle?.cancel();
    this.handle = undefined;
  }
}
