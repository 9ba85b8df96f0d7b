// A clock that only moves when the test says so; timers fire in order, with the event loop's
// pending promise callbacks run between them.

import { setImmediate as tick } from 'node:timers/promises';
import type { Clock, TimerHandle } from '../../src/core/clock.ts';

interface Timer { at: number; seq: number; fn: () => void; cancelled: boolean }

export class ManualClock implements Clock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private timers: Timer[] = [];

  now(): number {
    return this.t;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }

  /** Lets pending promise chains run (several event-loop turns). */
  async settle(turns = 5): Promise<void> {
    for (let i = 0; i < turns; i++) await tick();
  }

  /**
   * Moves time forward by ms at once, for code that reads now() between its own awaits (a probe
   * that takes time). Throws if that would pass a pending timer: use advance() for those.
   */
  creep(ms: number): void {
    const due = this.timers.find((x) => !x.cancelled && x.at <= this.t + ms);
    if (due !== undefined) throw new Error(`creep(${ms}) would pass a timer due at +${due.at - this.t} ms: use advance()`);
    this.t += ms;
  }

  /** Moves time forward by ms, firing due timers in order and settling after each. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await this.settle();
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      this.timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.timers[0];
      if (next === undefined || next.at > target) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.fn();
      await this.settle();
    }
    this.t = target;
    await this.settle();
  }

  get pendingTimers(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }
}
