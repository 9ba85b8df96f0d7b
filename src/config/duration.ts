// Durations in the config and on the command line: `250ms`, `30s`, `10m`, `1h`, `1m30s`, `1.5s`.
// A bare number is rejected (is `30` seconds or milliseconds?) with a suggestion that picks a unit.

import { fail, ok, show, type Parsed } from './parsed.ts';

/** The longest timer Node.js can arm (2^31-1 ms, about 24.8 days); a longer one would fire at once. */
export const MAX_DURATION_MS = 2_147_483_647;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

export interface DurationOptions {
  /** Whether `0s` is allowed (default false: the duration must be positive). */
  zero?: boolean;
  /** Whether the value must be whole seconds (e.g. a stop grace period the engine takes in seconds). */
  wholeSeconds?: boolean;
}

/** Milliseconds, or a message like `expected a duration like "10m", got "ten"`. */
export function parseDuration(value: unknown, options: DurationOptions = {}): Parsed<number> {
  const expected = `expected a duration like "10m", got ${show(value)}`;
  if (typeof value === 'number') {
    return fail(Number.isFinite(value) && value >= 0 ? `${expected}; did you mean "${value}s"?` : expected);
  }
  if (typeof value !== 'string') return fail(expected);
  const text = value.trim();
  if (/^\d+(?:\.\d+)?$/.test(text)) return fail(`${expected}; did you mean "${text}s"?`);
  const ms = sumParts(text);
  if (ms === undefined) {
    const lower = text.toLowerCase();
    return fail(lower !== text && sumParts(lower) !== undefined ? `${expected}; did you mean "${lower}"?` : expected);
  }
  if (!Number.isInteger(ms)) return fail(`${show(value)} is not a whole number of milliseconds`);
  if (ms === 0 && options.zero !== true) return fail(`expected a duration longer than 0, got ${show(value)}`);
  if (ms > MAX_DURATION_MS) return fail(`${show(value)} is too long; the longest supported duration is 596h`);
  if (options.wholeSeconds === true && ms % 1000 !== 0) {
    return fail(`expected whole seconds like "10s", got ${show(value)}`);
  }
  return ok(ms);
}

function sumParts(text: string): number | undefined {
  if (text === '') return undefined;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < text.length) {
    const m = PART.exec(text);
    if (m === null) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? NaN);
  }
  // 1.1s is 1100.0000000000002 ms in floating point; anything within a nanosecond counts as whole.
  const rounded = Math.round(total);
  return Math.abs(total - rounded) < 1e-6 ? rounded : total;
}
