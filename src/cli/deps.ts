// What every CLI command receives: streams, environment and the logger factory — injected, so the
// commands can be run in tests without a process of their own.

import type { Logger } from '../core/logger.ts';
import type { LogLevel } from '../log/log.ts';

export interface CliDeps {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  makeLogger(level: LogLevel): Logger;
  /** How this portwake is run (absolute paths), for ExecStart= of generated units. */
  selfCommand: readonly string[];
  /** Where ./portwake.yaml is looked for (default: the working directory). */
  cwd?: string;
  /** The system-wide config file (default /etc/portwake/portwake.yaml; injected in tests). */
  systemConfigPath?: string;
  /** Resolves when the process is asked to stop (SIGTERM/SIGINT); the daemon then shuts down. */
  onSignal(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', fn: () => void): void;
}

/** The global options every command sees (commander's optsWithGlobals()). */
export interface GlobalOptions {
  logLevel: LogLevel;
}
