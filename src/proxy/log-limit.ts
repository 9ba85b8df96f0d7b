// Rate limit for log lines a flood of connections could repeat thousands of times a second.

import type { Clock } from '../core/clock.ts';

export class LogLimit {
  readonly #clock: Clock;
  readonly #intervalMs: number;
  #last = Number.NEGATIVE_INFINITY;
  #suppressed = 0;

  constructor(clock: Clock, intervalMs: number) {
    this.#clock = clock;
    this.#intervalMs = intervalMs;
  }

  /**
   * At most one line per interval: returns how many were suppressed since the last one logged
   * (log it now, mentioning that count), or undefined (skip this one).
   */
  take(): number | undefined {
    const now = this.#clock.now();
    if (now - this.#last < this.#intervalMs) {
      this.#suppressed += 1;
      return undefined;
    }
    this.#last = now;
    const suppressed = this.#suppressed;
    this.#suppressed = 0;
    return suppressed;
  }
}
