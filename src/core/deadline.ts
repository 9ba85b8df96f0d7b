// Deadlines as AbortSignals: every engine call and every wait gets one (STYLE.md habit 8). The
// signal aborts with a DeadlineError, which a provider turns into an EngineTimeoutError naming the
// call and the engine; or with the parent signal's own reason when that aborts first.

import type { Clock } from './clock.ts';
import { DeadlineError } from './errors.ts';

export interface Deadline {
  readonly signal: AbortSignal;
  /** Clears the timer (call when the bounded work is done); the signal stays as it is. */
  cancel(): void;
}

/** A signal that aborts after ms by the given clock, or when `parent` aborts. */
export function deadline(clock: Clock, ms: number, parent?: AbortSignal): Deadline {
  const own = new AbortController();
  const timer = clock.setTimer(ms, () => own.abort(new DeadlineError(ms)));
  return {
    signal: parent === undefined ? own.signal : AbortSignal.any([parent, own.signal]),
    cancel: () => timer.cancel(),
  };
}

/** Runs fn with a deadline signal, clearing the timer when it settles. */
export async function withDeadline<T>(clock: Clock, ms: number, parent: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const d = deadline(clock, ms, parent);
  try {
    return await fn(d.signal);
  } finally {
    d.cancel();
  }
}
