// `portwake status|start|stop|events`: argv → one control API call → text on stdout. This file only
// wires options; cli/status-command.ts, loaded when a command runs, makes the call (through
// control/client.ts) and renders it (cli/status-format.ts).

import type { Command } from 'commander';
import type { PortwakeConfig } from '../config/types.ts';

export interface CliOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface StatusCommandDeps {
  /** Reads and validates the config file (for its `control:` section when --control is absent). */
  loadConfig(path: string): Promise<PortwakeConfig> | PortwakeConfig;
  /** Config file used when neither --control nor -c is given (the one `run` would find); undefined: one of them is required. */
  defaultConfigPath?: string | undefined;
  stdout: CliOutput;
  /** Warnings (a token given on the command line); default: none shown. */
  stderr?: CliOutput;
  env: Readonly<Record<string, string | undefined>>;
  /** Injected for tests; default Date.now. */
  now?: () => number;
  /** Ends `portwake events` (tests). */
  signal?: AbortSignal;
  /** When given, SIGINT/SIGTERM end `portwake events` cleanly (exit 0) instead of killing it. */
  onSignal?(signal: 'SIGTERM' | 'SIGINT', fn: () => void): void;
}

export interface ControlOptions {
  control?: string;
  token?: string;
  tokenFile?: string;
  config?: string;
}

/** Adds `status`, `start`, `stop` and `events` to the program. */
export function register(program: Command, deps: StatusCommandDeps): void {
  withControlOptions(program.command('status'))
    .description('show every service: state, connections, last activity, last cold start')
    .option('--json', 'print the raw /status JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const { statusCommand } = await import('./status-command.ts');
      await statusCommand(cmd.optsWithGlobals<ControlOptions & { json?: boolean }>(), deps);
    });

  for (const action of ['start', 'stop'] as const) {
    withControlOptions(program.command(`${action} <service>`))
      .description(action === 'start' ? 'start a service now and wait until it is ready' : 'drain a service\'s connections and stop its container')
      .action(async (service: string, _opts: unknown, cmd: Command) => {
        const { serviceCommand } = await import('./status-command.ts');
        await serviceCommand(action, service, cmd.optsWithGlobals<ControlOptions>(), deps);
      });
  }

  withControlOptions(program.command('events'))
    .description('follow daemon events, one line each, until interrupted')
    .option('--json', 'print each event as one JSON line')
    .action(async (_opts: unknown, cmd: Command) => {
      const { eventsCommand } = await import('./status-command.ts');
      await eventsCommand(cmd.optsWithGlobals<ControlOptions & { json?: boolean }>(), deps);
    });
}

function withControlOptions(cmd: Command): Command {
  return cmd
    .option('--control <addr>', 'control API address: unix:/path or HOST:PORT (default: control.listen of the config file)')
    .option('--token <token>', 'bearer token (visible to other users in /proc: prefer --token-file or PORTWAKE_TOKEN)')
    .option('--token-file <file>', 'read the bearer token from this file')
    .option('-c, --config <path>', 'config file to read control.listen and control.token/tokenFile from');
}

