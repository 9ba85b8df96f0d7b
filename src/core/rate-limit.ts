// Rate-limited reporting: the first occurrence is reported at once, later ones at most once per
// interval with a count of those suppressed (STYLE.md habit 9: hitting a limit is logged, not spammed).

import type { Clock } from './clock.ts';

export class RateLimitedReporter {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly intervalMs: number,
    private readonly report: (key: string, suppressed: number) => void,
  ) {}

  hit(key: string): void {
    const now = this.clock.now();
    const entry = this.last.get(key);
    if (entry !== undefined && now - entry.at < this.intervalMs) {
      entry.suppressed++;
      return;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    this.report(key, entry?.suppressed ?? 0);
  }
}
