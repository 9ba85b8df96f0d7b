// The half-close bound for connections forwarded in native code from the first byte: their
// half-close happens in C without telling JavaScript, so a sweep samples them instead (a counts
// call each, no event per chunk and nothing on the data path). JavaScript-path connections keep
// their own timer (connection.ts).

import type { Clock, TimerHandle } from '../../core/clock.ts';

/** What the sweep needs of a natively forwarded connection (NativeConnection). */
export interface Sampled {
  /** Fills [bytesIn, bytesOut, clientEof, upstreamEof, bytes pending to the client]; false once the connection is over. */
  sample(out: Float64Array): boolean;
  close(reason: 'half_closed_timeout'): void;
}

interface Watch {
  /** When the upstream was last seen to move (or the half-close was first seen). */
  since: number;
  bytesOut: number;
}

/**
 * Every period (a quarter of timeoutMs, at least 250 ms) while connections exist: a connection
 * whose client has sent its EOF and whose upstream has not is counted (count(+1)) and watched; it
 * is closed ('half_closed_timeout') once the upstream has sent nothing for timeoutMs (bytes it sent
 * that a slow client has not taken yet count as progress). Its end must
 * be told through forget(), which also counts it down.
 */
export class HalfCloseSweep {
  readonly #watches = new Map<Sampled, Watch>();
  readonly #out = new Float64Array(5);
  #periodMs: number;
  #timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private timeoutMs: number,
    private readonly count: (delta: number) => void,
    /** The connections to look at (natively forwarded ones; others are skipped by the caller). */
    private readonly connections: () => Iterable<Sampled>,
  ) {
    this.#periodMs = Math.max(250, Math.round(timeoutMs / 4));
  }

  /** A reload's new halfCloseTimeout: applies from the next sweep on. */
  retime(timeoutMs: number): void {
    this.timeoutMs = timeoutMs;
    this.#periodMs = Math.max(250, Math.round(timeoutMs / 4));
  }

  /** A connection was added: make sure the sweep runs. */
  ensure(): void {
    this.#timer ??= this.clock.setTimer(this.#periodMs, this.#sweep);
  }

  forget(connection: Sampled): void {
    if (this.#watches.delete(connection)) this.count(-1);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #sweep = (): void => {
    this.#timer = undefined;
    const now = this.clock.now();
    const out = this.#out;
    let any = false;
    for (const c of this.connections()) {
      any = true;
      out[2] = 0;
      out[3] = 0;
      out[4] = 0;
      if (!c.sample(out)) continue;
      const bytesOut = out[1] ?? 0;
      const watch = this.#watches.get(c);
      if (out[2] !== 1 || out[3] === 1) {
        this.forget(c);
      } else if (watch === undefined) {
        this.#watches.set(c, { since: now, bytesOut });
        this.count(+1);
      } else if (watch.bytesOut !== bytesOut || out[4] !== 0) {
        // The upstream moved, or answered and the (slow) client has not taken it all: not stuck.
        watch.since = now;
        watch.bytesOut = bytesOut;
      } else if (now - watch.since >= this.timeoutMs) {
        c.close('half_closed_timeout');
      }
    }
    if (any) this.ensure();
  };
}
