// The logger at the process boundary: JSON lines on stderr when it is not a terminal, readable
// lines on a terminal. Everything below receives it injected as the core Logger contract.

import { createRequire } from 'node:module';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';
import type { Logger } from './core/logger.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go (default stderr, fd 2). */
  fd?: number;
  /** Human-readable lines instead of JSON (default: whether the fd is a terminal). */
  pretty?: boolean;
}

export function createLogger(o: LoggerOptions): Logger {
  const fd = o.fd ?? 2;
  const readable = o.pretty ?? (fd === 2 ? process.stderr.isTTY : false);
  const base = { level: o.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (readable) {
    // Loaded only for a terminal (~9 MiB): a daemon under systemd or docker logs JSON lines.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(base, pretty({ destination: fd, sync: true, colorize: process.env['NO_COLOR'] === undefined, ignore: 'pid,hostname', singleLine: true }));
  }
  return pino(base, pino.destination({ fd, sync: true }));
}
