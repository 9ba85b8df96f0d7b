// The open-file limit against the configured connection limits: each proxied connection holds two
// descriptors, and running out is only a refusal (never a crash), but one an operator should hear
// about at start-up rather than under load.

import { readFileSync } from 'node:fs';
import type { Logger } from './core/logger.ts';
import type { ServiceConfig } from './config/types.ts';

/** Descriptors the daemon needs besides its connections (listeners, engine, logs, control API). */
const BASELINE_FDS = 64;

/** The soft "Max open files" limit from /proc/self/limits text; undefined when unlimited or unknown. */
export function softOpenFileLimit(limitsText: string): number | undefined {
  const m = /^Max open files\s+(\d+|unlimited)\s/m.exec(limitsText);
  return m?.[1] === undefined || m[1] === 'unlimited' ? undefined : Number(m[1]);
}

/** Logs one warning when the configured limits can use more descriptors than the process may open. */
export function warnIfFdLimitLow(services: readonly ServiceConfig[], logger: Logger, readLimits: () => string = () => readFileSync('/proc/self/limits', 'utf8')): void {
  let soft: number | undefined;
  try {
    soft = softOpenFileLimit(readLimits());
  } catch {
    return; // not Linux, or /proc unavailable: nothing to compare with
  }
  if (soft === undefined) return;
  const needed = BASELINE_FDS + services.reduce((n, s) => n + 2 * s.maxConnections + s.listen.length, 0);
  if (soft >= needed) return;
  logger.warn(
    { softLimit: soft, needed },
    `the open-file limit (${soft}) is below what the configured maxConnections can use (${needed}: two per proxied connection); ` +
      'connections past it are refused (fd_limit). Raise LimitNOFILE= / ulimit -n, or lower maxConnections',
  );
}
