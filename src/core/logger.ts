// The logging contract core code writes to; pino satisfies it, tests pass a recorder.

export interface Logger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
  child(bindings: Record<string, unknown>): Logger;
  /**
   * False when a debug line would be dropped, so that a hot path can skip building it (pino has
   * this); absent means "maybe", and the line is built.
   */
  isLevelEnabled?(level: 'debug'): boolean;
}

/** Whether `logger` would write a debug line (true when it cannot say). */
export function debugEnabled(logger: Logger): boolean {
  return logger.isLevelEnabled?.('debug') ?? true;
}

export const silentLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLogger,
};
