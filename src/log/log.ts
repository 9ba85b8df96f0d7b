// The logger at the process boundary: JSON lines on stderr when it is not a terminal, readable
// lines on a terminal (coloured unless NO_COLOR). Everything below receives it injected as the
// core Logger contract.

import { createRequire } from 'node:module';
import { isatty } from 'node:tty';
import pino from 'pino';
import type PinoPretty from 'pino-pretty';
import { colourWanted } from './colour.ts';
import type { Logger } from '../core/logger.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go (default stderr, fd 2). */
  fd?: number;
  /** Human-readable lines instead of JSON (default: whether the fd is a terminal). */
  pretty?: boolean;
  /** For NO_COLOR and TERM (default process.env); readable lines are coloured only on a terminal. */
  env?: Readonly<Record<string, string | undefined>>;
}

export function createLogger(o: LoggerOptions): Logger {
  const fd = o.fd ?? 2;
  const readable = o.pretty ?? isatty(fd);
  const base = { level: o.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime };
  if (readable) {
    // Loaded only for a terminal (~9 MiB): a daemon under systemd or docker logs JSON lines.
    const pretty = createRequire(import.meta.url)('pino-pretty') as typeof PinoPretty;
    return pino(base, pretty({ destination: fd, sync: true, colorize: colourWanted(isatty(fd), o.env ?? process.env), ignore: 'pid,hostname', singleLine: true }));
  }
  return pino(base, pino.destination({ fd, sync: true }));
}
