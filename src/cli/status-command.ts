// What `portwake status|start|stop|events` do once argv is parsed: find the control API and its
// token (flags, PORTWAKE_TOKEN or the config file: control/token.ts), make the call through
// control/client.ts, render the answer with cli/status-format.ts. Loaded by the commands' actions (cli/status.ts).

import type { PortwakeConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import type { ServiceStatus } from '../core/status.ts';
import { parseControlAddress, type ControlTarget } from '../control/address.ts';
import { ControlClient } from '../control/client.ts';
import { clientToken } from '../control/token.ts';
import type { ControlOptions, StatusCommandDeps } from './status.ts';
import { formatEvent, formatStatusTable, palette, formatDuration } from './status-format.ts';

/** Starting or stopping waits for the daemon's own start/stop timeout; this only bounds a hung daemon. */
const ACTION_TIMEOUT_MS = 10 * 60_000;

export async function statusCommand(opts: ControlOptions & { json?: boolean }, deps: StatusCommandDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  const client = await clientFor(opts, deps);
  const body = await client.json<{ now: number; services: ServiceStatus[] }>('GET', '/status');
  if (opts.json === true) {
    deps.stdout.write(JSON.stringify(body, null, 2) + '\n');
    return;
  }
  deps.stdout.write(formatStatusTable(body.services, body.now ?? now(), palette(deps.stdout, deps.env)));
}

export async function serviceCommand(action: 'start' | 'stop', service: string, opts: ControlOptions, deps: StatusCommandDeps): Promise<void> {
  const client = await clientFor(opts, deps);
  const path = `/services/${encodeURIComponent(service)}/${action}`;
  const body = await client.json<{ tookMs: number }>('POST', path, { timeoutMs: ACTION_TIMEOUT_MS });
  const c = palette(deps.stdout, deps.env);
  const word = action === 'start' ? c.green('ready') : c.dim('stopped');
  deps.stdout.write(`${service}: ${word} (took ${formatDuration(body.tookMs)})\n`);
}

export async function eventsCommand(opts: ControlOptions & { json?: boolean }, deps: StatusCommandDeps): Promise<void> {
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
