// `portwake status|start|stop|events`: argv → one control API call → text on stdout. The talking is
// in control/client.ts, the rendering in cli/status-format.ts; this file only wires options.

import type { Command } from 'commander';
import type { PortwakeConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import type { ServiceStatus } from '../core/status.ts';
import { parseControlAddress, type ControlTarget } from '../control/address.ts';
import { ControlClient } from '../control/client.ts';
import { formatEvent, formatStatusTable, palette, formatDuration } from './status-format.ts';

export interface CliOutput {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface StatusCommandDeps {
  /** Reads and validates the config file (for its `control:` section when --control is absent). */
  loadConfig(path: string): Promise<PortwakeConfig> | PortwakeConfig;
  /** Config file used when neither --control nor -c is given; undefined: one of them is required. */
  defaultConfigPath?: string;
  stdout: CliOutput;
  env: Readonly<Record<string, string | undefined>>;
  /** Injected for tests; default Date.now. */
  now?: () => number;
  /** Ends `portwake events` (tests). */
  signal?: AbortSignal;
  /** When given, SIGINT/SIGTERM end `portwake events` cleanly (exit 0) instead of killing it. */
  onSignal?(signal: 'SIGTERM' | 'SIGINT', fn: () => void): void;
}

interface ControlOptions {
  control?: string;
  token?: string;
  config?: string;
}

/** Starting or stopping waits for the daemon's own start/stop timeout; this only bounds a hung daemon. */
const ACTION_TIMEOUT_MS = 10 * 60_000;

/** Adds `status`, `start`, `stop` and `events` to the program. */
export function register(program: Command, deps: StatusCommandDeps): void {
  const now = deps.now ?? Date.now;

  withControlOptions(program.command('status'))
    .description('show every service: state, connections, last activity, last cold start')
    .option('--json', 'print the raw /status JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ControlOptions & { json?: boolean }>();
      const client = await clientFor(opts, deps);
      const body = await client.json<{ now: number; services: ServiceStatus[] }>('GET', '/status');
      if (opts.json === true) {
        deps.stdout.write(JSON.stringify(body, null, 2) + '\n');
        return;
      }
      deps.stdout.write(formatStatusTable(body.services, body.now ?? now(), palette(deps.stdout, deps.env)));
    });

  for (const action of ['start', 'stop'] as const) {
    withControlOptions(program.command(`${action} <service>`))
      .description(action === 'start' ? 'start a service now and wait until it is ready' : 'drain a service\'s connections and stop its container')
      .action(async (service: string, _opts: unknown, cmd: Command) => {
        const opts = cmd.optsWithGlobals<ControlOptions>();
        const client = await clientFor(opts, deps);
        const path = `/services/${encodeURIComponent(service)}/${action}`;
        const body = await client.json<{ tookMs: number }>('POST', path, { timeoutMs: ACTION_TIMEOUT_MS });
        const c = palette(deps.stdout, deps.env);
        const word = action === 'start' ? c.green('ready') : c.dim('stopped');
        deps.stdout.write(`${service}: ${word} (took ${formatDuration(body.tookMs)})\n`);
      });
  }

  withControlOptions(program.command('events'))
    .description('follow daemon events, one line each, until interrupted')
    .option('--json', 'print each event as one JSON line')
    .action(async (_opts: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<ControlOptions & { json?: boolean }>();
      const client = await clientFor(opts, deps);
      const c = palette(deps.stdout, deps.env);
      const stop = new AbortController();
      deps.onSignal?.('SIGINT', () => stop.abort());
      deps.onSignal?.('SIGTERM', () => stop.abort());
      const signal = deps.signal === undefined ? stop.signal : AbortSignal.any([deps.signal, stop.signal]);
      for await (const event of client.events(signal)) {
        deps.stdout.write(opts.json === true ? JSON.stringify(event) + '\n' : formatEvent(event, c) + '\n');
      }
    });
}

function withControlOptions(cmd: Command): Command {
  return cmd
    .option('--control <addr>', 'control API address: unix:/path or HOST:PORT (default: control.listen of the config file)')
    .option('--token <token>', 'bearer token (prefer PORTWAKE_TOKEN: arguments are visible to other users)')
    .option('-c, --config <path>', 'config file to read control.listen and control.token from');
}

async function clientFor(opts: ControlOptions, deps: StatusCommandDeps): Promise<ControlClient> {
  const envToken = deps.env.PORTWAKE_TOKEN === '' ? undefined : deps.env.PORTWAKE_TOKEN;
  let token = opts.token ?? envToken;
  let target: ControlTarget;
  if (opts.control !== undefined) {
    target = parseControlAddress(opts.control);
  } else {
    const path = opts.config ?? deps.defaultConfigPath;
    if (path === undefined) {
      throw new PortwakeError('USAGE', 'no control API address: pass --control unix:/path or HOST:PORT, or -c CONFIG with a control: section');
    }
    const config = await deps.loadConfig(path);
    if (config.control === undefined) {
      throw new PortwakeError('USAGE', `${config.source} has no control: section, so the daemon serves no control API (or pass --control)`);
    }
    target = reachable(config.control.listen);
    token ??= config.control.token;
  }
  return new ControlClient({ target, token });
}

/** A daemon listening on every address is reached through loopback. */
function reachable(listen: NonNullable<PortwakeConfig['control']>['listen']): ControlTarget {
  if (listen.kind === 'unix') return { kind: 'unix', path: listen.path };
  const host = listen.host === '0.0.0.0' || listen.host === '' ? '127.0.0.1' : listen.host === '::' ? '::1' : listen.host;
  return { kind: 'tcp', host, port: listen.port };
}
