// `portwake status|start|stop|events`: argv → one control API call → text on stdout. Finds the
// control API and its token (flags, PORTWAKE_TOKEN or the config file: control/token.ts), makes the
// call through control/client.ts and renders the answer with cli/status-format.ts; those are loaded
// when a command runs.

import type { Command } from 'commander';
import type { PortwakeConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import type { ServiceStatus } from '../core/status.ts';
import type { ControlTarget } from '../control/address.ts';
import type { ControlClient } from '../control/client.ts';

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
      await statusCommand(cmd.optsWithGlobals<ControlOptions & { json?: boolean }>(), deps);
    });

  for (const action of ['start', 'stop'] as const) {
    withControlOptions(program.command(`${action} <service>`))
      .description(action === 'start' ? 'start a service now and wait until it is ready' : 'drain a service\'s connections and stop its container')
      .action(async (service: string, _opts: unknown, cmd: Command) => {
        await serviceCommand(action, service, cmd.optsWithGlobals<ControlOptions>(), deps);
      });
  }

  withControlOptions(program.command('events'))
    .description('follow daemon events, one line each, until interrupted')
    .option('--json', 'print each event as one JSON line')
    .action(async (_opts: unknown, cmd: Command) => {
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


/** Starting or stopping waits for the daemon's own start/stop timeout; this only bounds a hung daemon. */
const ACTION_TIMEOUT_MS = 10 * 60_000;

async function statusCommand(opts: ControlOptions & { json?: boolean }, deps: StatusCommandDeps): Promise<void> {
  const { formatStatusTable, palette } = await import('./status-format.ts');
  const now = deps.now ?? Date.now;
  const client = await clientFor(opts, deps);
  const body = await client.json<{ now: number; services: ServiceStatus[] }>('GET', '/status');
  if (opts.json === true) {
    deps.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return;
  }
  deps.stdout.write(formatStatusTable(body.services, body.now ?? now(), palette(deps.stdout, deps.env)));
}

async function serviceCommand(action: 'start' | 'stop', service: string, opts: ControlOptions, deps: StatusCommandDeps): Promise<void> {
  const { formatDuration, palette } = await import('./status-format.ts');
  const client = await clientFor(opts, deps);
  const path = `/services/${encodeURIComponent(service)}/${action}`;
  const body = await client.json<{ tookMs: number }>('POST', path, { timeoutMs: ACTION_TIMEOUT_MS });
  const c = palette(deps.stdout, deps.env);
  const word = action === 'start' ? c.green('ready') : c.dim('stopped');
  deps.stdout.write(`${service}: ${word} (took ${formatDuration(body.tookMs)})\n`);
}

async function eventsCommand(opts: ControlOptions & { json?: boolean }, deps: StatusCommandDeps): Promise<void> {
  const { formatEvent, palette } = await import('./status-format.ts');
  const client = await clientFor(opts, deps);
  const c = palette(deps.stdout, deps.env);
  const stop = new AbortController();
  deps.onSignal?.('SIGINT', () => stop.abort());
  deps.onSignal?.('SIGTERM', () => stop.abort());
  const signal = deps.signal === undefined ? stop.signal : AbortSignal.any([deps.signal, stop.signal]);
  for await (const event of client.events(signal)) {
    deps.stdout.write(opts.json === true ? JSON.stringify(event) + '\n' : formatEvent(event, c) + '\n');
  }
}

async function clientFor(opts: ControlOptions, deps: StatusCommandDeps): Promise<ControlClient> {
  const [{ parseControlAddress }, { ControlClient }, { clientToken }] = await Promise.all([
    import('../control/address.ts'),
    import('../control/client.ts'),
    import('../control/token.ts'),
  ]);
  const warn = (message: string): void => { deps.stderr?.write(`${message}\n`); };
  let token = clientToken(opts, deps.env, undefined, warn);
  let target: ControlTarget;
  if (opts.control !== undefined) {
    target = parseControlAddress(opts.control);
  } else {
    const path = opts.config ?? deps.defaultConfigPath;
    if (path === undefined) {
      throw new PortwakeError('USAGE', 'no control API address and no config file (./portwake.yaml, $PORTWAKE_CONFIG, /etc/portwake/portwake.yaml): pass --control unix:/path or HOST:PORT, or -c CONFIG with a control: section');
    }
    const config = await deps.loadConfig(path);
    if (config.control === undefined) {
      throw new PortwakeError('USAGE', `${config.source} has no control: section, so the daemon serves no control API (or pass --control)`);
    }
    target = reachable(config.control.listen);
    token ??= clientToken({}, {}, config.control, warn);
  }
  return new ControlClient({ target, token });
}

/** A daemon listening on every address is reached through loopback. */
function reachable(listen: NonNullable<PortwakeConfig['control']>['listen']): ControlTarget {
  if (listen.kind === 'unix') return { kind: 'unix', path: listen.path };
  const host = listen.host === '0.0.0.0' || listen.host === '' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return { kind: 'tcp', host, port: listen.port };
}
