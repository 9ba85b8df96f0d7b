// The start limit (systemd's StartLimitBurst=/StartLimitIntervalSec=): repeated failed starts begin
// a back-off, which doubles with each failed retry after it, up to a maximum.

import { formatMs } from '../errors.ts';
import type { ActivationSpec } from './types.ts';

/**
 * systemd's burst (5), over a longer interval than its 10 s: a failed start on a busy engine takes
 * seconds (start, then noticing the exit), and 5 in 10 s would only catch the fastest loops.
 */
export const START_LIMIT_DEFAULTS = { startLimitBurst: 5, startLimitIntervalMs: 60_000, startBackoffMaxMs: 300_000 } as const;
export const FIRST_BACKOFF_MS = 10_000;

export class StartLimit {
  /** Failed starts within the current interval (epoch ms). */
  private failures: number[] = [];
  /** Back-offs in a row (reset by a successful start or clear()). */
  private backoffsInARow = 0;

  get backoffs(): number {
    return this.backoffsInARow;
  }

  /** A start succeeded, or a person cleared the back-off. */
  clear(): void {
    this.failures = [];
    this.backoffsInARow = 0;
  }

  /** Records a failed start at `now`; returns the end of the back-off it begins, if it does. */
  countFailure(spec: ActivationSpec, now: number): number | undefined {
    const burst = spec.startLimitBurst ?? START_LIMIT_DEFAULTS.startLimitBurst;
    const intervalMs = spec.startLimitIntervalMs ?? START_LIMIT_DEFAULTS.startLimitIntervalMs;
    if (burst <= 0) return undefined;
    this.failures = this.failures.filter((t) => now - t < intervalMs);
    this.failures.push(now);
    // After a back-off one start is tried; its failure backs off again, for twice as long.
    if (this.backoffsInARow === 0 && this.failures.length < burst) return undefined;
    const ms = Math.min(FIRST_BACKOFF_MS * 2 ** this.backoffsInARow, spec.startBackoffMaxMs ?? START_LIMIT_DEFAULTS.startBackoffMaxMs);
    this.backoffsInARow++;
    this.failures = [];
    return now + ms;
  }
}

/** The warning when a back-off begins, ending at `until` (epoch ms); `backoffs`: back-offs in a row, this one included. */
export function backoffWarning(spec: ActivationSpec, backoffs: number, until: number, now: number): string {
  const burst = spec.startLimitBurst ?? START_LIMIT_DEFAULTS.startLimitBurst;
  const interval = formatMs(spec.startLimitIntervalMs ?? START_LIMIT_DEFAULTS.startLimitIntervalMs);
  return `service "${spec.name}": ${backoffs > 1 ? 'the retry after a back-off failed' : `${burst} starts failed within ${interval}`}; ` +
    `refusing connections without a start until ${new Date(until).toISOString()} (back-off ${formatMs(until - now)})`;
}
