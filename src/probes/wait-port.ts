// `portwake wait-port`'s loop: probe until ready, with a deadline, an AbortSignal and a capped
// backoff (a few ms growing to ~100 ms) — the recipe's `nc -z` every 100 ms, done properly. Not the
// daemon's readiness wait (core/readiness.ts), which also watches the container it started (exit,
// health, delay); both run the probes of src/probes/. Targets: wait-port-targets.ts.

import { sleep, type Clock } from '../core/clock.ts';
import { formatMs, PortwakeError } from '../core/errors.ts';
import type { ProbeOutcome } from '../core/readiness.ts';

export class WaitPortTimeoutError extends PortwakeError {
  constructor(readonly what: string, readonly timeoutMs: number, readonly lastProbe: string | undefined) {
    super('READY_TIMEOUT', `${what} not ready after ${formatMs(timeoutMs)}${lastProbe === undefined ? '' : ` (last probe: ${lastProbe})`}`);
  }
}

export interface WaitPortLoopOptions {
  /**
   * One attempt. Resolves { ok: false, detail } for "not ready yet"; throws only when waiting
   * longer cannot help (e.g. the container does not exist), which ends the wait with that error.
   */
  attempt(signal: AbortSignal): Promise<ProbeOutcome>;
  /** What is waited for, for messages: "127.0.0.1:8080", `container "web" port 80`. */
  what: string;
  timeoutMs: number;
  clock: Clock;
  /** The caller giving up (SIGTERM); the wait then rejects with signal.reason. */
  signal?: AbortSignal;
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface WaitPortResult {
  attempts: number;
  elapsedMs: number;
}

/** The pause after a failed attempt: ×1.5 from minDelayMs up to maxDelayMs. */
export function nextProbeDelay(previousMs: number | undefined, minDelayMs: number, maxDelayMs: number): number {
  if (previousMs === undefined) return minDelayMs;
  return Math.min(maxDelayMs, Math.max(minDelayMs, Math.ceil(previousMs * 1.5)));
}

/**
 * Resolves once an attempt succeeds. Rejects with WaitPortTimeoutError (code READY_TIMEOUT, with
 * the last probe's outcome) at the deadline, with the attempt's error when it throws, or with the
 * signal's reason when aborted. An attempt in flight at the deadline is aborted.
 */
export async function waitPort(o: WaitPortLoopOptions): Promise<WaitPortResult> {
  const minDelayMs = o.minDelayMs ?? 5;
  const maxDelayMs = o.maxDelayMs ?? 100;
  const started = o.clock.now();
  let lastDetail: string | undefined;
  let attempts = 0;
  const deadline = new AbortController();
  const timer = o.clock.setTimer(o.timeoutMs, () => deadline.abort(new WaitPortTimeoutError(o.what, o.timeoutMs, lastDetail)));
  const signal = o.signal === undefined ? deadline.signal : AbortSignal.any([o.signal, deadline.signal]);
  let delay: number | undefined;
  try {
    for (;;) {
      signal.throwIfAborted();
      attempts++;
      const outcome = await o.attempt(signal);
      // A probe cut short by the deadline says "aborted"; the one before it said why.
      signal.throwIfAborted();
      if (outcome.ok) return { attempts, elapsedMs: o.clock.now() - started };
      lastDetail = outcome.detail;
      delay = nextProbeDelay(delay, minDelayMs, maxDelayMs);
      await sleep(o.clock, delay, signal);
    }
  } catch (err) {
    if (deadline.signal.aborted) throw new WaitPortTimeoutError(o.what, o.timeoutMs, lastDetail);
    if (signal.aborted) throw signal.reason as Error;
    throw err;
  } finally {
    timer.cancel();
  }
}
