// The one idle timer of a service: armed when the last connection is released, disarmed when one
// is acquired. Pure bookkeeping; the activation decides what firing means.

import type { Clock, TimerHandle } from './clock.ts';

export class IdleTimer {
  private handle: TimerHandle | undefined;
  private armedUntil: number | undefined;

  constructor(
    private readonly clock: Clock,
    private timeoutMs: number | undefined,
    private readonly onIdle: () => void,
  ) {}

  /** (Re)arms the timer; a no-op when no idle timeout is configured. */
  arm(): void {
    if (this.timeoutMs === undefined) return;
    this.disarm();
    this.armedUntil = this.clock.now() + this.timeoutMs;
    this.handle = this.clock.setTimer(this.timeoutMs, () => {
      this.handle = undefined;
      this.armedUntil = undefined;
      this.onIdle();
    });
  }

  /**
   * A new timeout (a reload). An armed timer keeps the moment it was armed and fires at that
   * moment plus the new timeout (at once when that has passed); undefined disarms it.
   */
  retime(timeoutMs: number | undefined): void {
    const armedAt = this.armedUntil === undefined || this.timeoutMs === undefined ? undefined : this.armedUntil - this.timeoutMs;
    this.timeoutMs = timeoutMs;
    if (armedAt === undefined) return;
    this.disarm();
    if (timeoutMs === undefined) return;
    this.armedUntil = armedAt + timeoutMs;
    this.handle = this.clock.setTimer(Math.max(0, this.armedUntil - this.clock.now()), () => {
      this.handle = undefined;
      this.armedUntil = undefined;
      this.onIdle();
    });
  }

  disarm(): void {
    this.handle?.cancel();
    this.handle = undefined;
    this.armedUntil = undefined;
  }

  /** Epoch ms when it fires, undefined when not armed. */
  get deadline(): number | undefined {
    return this.armedUntil;
  }
}

/**
 * `idleOn: traffic`: idle means no byte moved (either way) and no connection opened or closed for
 * timeoutMs, open connections notwithstanding. Nothing runs per byte: while started, a check every
 * tenth of the timeout (at least 1 s, never past the deadline) reads the service's byte total and
 * stamps a change with the check's time, so the stop comes timeoutMs to timeoutMs + one check
 * period after the last byte seen. (Natively forwarded bytes reach the total within a second.)
 */
export class TrafficIdle {
  private handle: TimerHandle | undefined;
  private lastChange = 0;
  private lastTotal = 0;
  private readonly periodMs: number;

  constructor(
    private readonly clock: Clock,
    private readonly timeoutMs: number,
    /** Bytes moved so far by the service's connections, open and closed (monotonic). */
    private readonly total: () => number,
    private readonly onIdle: () => void,
  ) {
    this.periodMs = Math.max(1_000, Math.round(timeoutMs / 10));
  }

  /** (Re)starts the quiet period from now. */
  start(): void {
    this.lastTotal = this.total();
    this.lastChange = this.clock.now();
    this.schedule(this.timeoutMs);
  }

  stop(): void {
    this.handle?.cancel();
    this.handle = undefined;
  }

  /** A connection opened or closed: that is traffic too. Cheap (a timestamp). */
  touch(): void {
    this.lastChange = this.clock.now();
  }

  /** Epoch ms when the service counts as idle if nothing moves, undefined when not watching. */
  get deadline(): number | undefined {
    return this.handle === undefined ? undefined : this.lastChange + this.timeoutMs;
  }

  private schedule(quietLeftMs: number): void {
    this.handle?.cancel();
    this.handle = this.clock.setTimer(Math.max(0, Math.min(this.periodMs, quietLeftMs)), this.check);
  }

  private readonly check = (): void => {
    this.handle = undefined;
    const now = this.clock.now();
    const total = this.total();
    if (total !== this.lastTotal) {
      this.lastTotal = total;
      this.lastChange = now;
    }
    const quiet = now - this.lastChange;
    if (quiet >= this.timeoutMs) this.onIdle();
    else this.schedule(this.timeoutMs - quiet);
  };
}
