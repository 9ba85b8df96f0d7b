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
