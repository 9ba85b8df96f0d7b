// The open-file limit against the configured connection limits: each proxied connection holds two
// descriptors, and running out is only a refusal (never a crash), but one an operator should hear
// about at start-up rather than under load.

import { readFileSync } from 'node:fs';
import type { Logger } from '../core/logger.ts';
import type { ServiceConfig } from '../config/types.ts';

/** Descriptors the daemon needs besides its connections (listeners, engine, logs, control API). */
const BASELINE_FDS = 64;

/** The soft "Max open files" limit from /proc/self/limits text; undefined when unlimited or unknown. */
export function softOpenFileLimit(limitsText: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  return m?.[1] === undefined || m[1] === 'unlimited' ? undefined : Number(m[1]);
}

/**
 * Descriptors the configuration can really use at once: every listener, the baseline, and the
 * busiest service at its own maxConnections (two per proxied connection). Services are not assumed
 * to be at their limits together: maxConnections is a ceiling per service, not an expected load,
 * and summing it would warn for any three services left at the default 4096 (24,643 needed)
 * although no one of them could be held back by a limit of 20,000.
 */
export function descriptorsNeeded(services: readonly ServiceConfig[]): number {
  const listeners = services.reduce((n, s) => n + s.listen.length, 0);
  const busiest = services.reduce((n, s) => Math.max(n, s.maxConnections), 0);
  return BASELINE_FDS + listeners + 2 * busiest;
}

/** Logs one warning when the busiest service could run out of descriptors before its maxConnections. */
export function warnIfFdLimitLow(services: readonly ServiceConfig[], logger: Logger, readLimits: () => string = () => readFileSync('/proc/self/limits', 'utf8')): void {
  let soft: number | undefined;
  try {
    soft = softOpenFileLimit(readLimits());
  } catch {
    return; // not Linux, or /proc unavailable: nothing to compare with
  }
  if (soft === undefined) return;
  const needed = descriptorsNeeded(services);
  if (soft >= needed) return;
  logger.warn(
    { softLimit: soft, needed },
    `the open-file limit (${soft}) is below what the busiest service's maxConnections can use (${needed}: two per proxied connection); ` +
      'connections past it are refused (fd_limit). Raise LimitNOFILE= / ulimit -n, or lower maxConnections',
  );
}
