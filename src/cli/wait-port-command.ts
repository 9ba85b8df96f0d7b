// What `portwake wait-port` does once argv is parsed: probe an address, or a container's own
// address, until it answers or the timeout passes. Loaded by the command's action (cli/wait-port.ts).

import { parseDuration } from '../config/duration.ts';
import type { Clock } from '../core/clock.ts';
import { formatMs, PortwakeError } from '../core/errors.ts';
import { formatEndpoint } from '../core/upstream.ts';
import { networkProbes } from '../probes/index.ts';
import { addressAttempt, containerAttempt, parseWaitTarget, type ProbeKind } from '../systemd/wait-port-targets.ts';
import { waitPort } from '../systemd/wait-port.ts';
import type { WaitPortDeps, WaitPortOptions } from './wait-port.ts';

/**
 * Real time whose timers keep the process alive. The core's systemClock unrefs its timers (a
 * daemon lives on its sockets); here the wait is all there is, and between two probes nothing else
 * holds the event loop: with unref'd timers Node would exit 0 mid-wait, reporting ready.
 */
const commandClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

export async function waitPortCommand(targetText: string | undefined, opts: WaitPortOptions, deps: WaitPortDeps): Promise<void> {
  const timeout = parseDuration(opts.timeout);
  if (!timeout.ok) throw usage(`--timeout: ${timeout.message}`);
  const probe: ProbeKind = opts.http === undefined ? { kind: 'tcp' } : httpProbe(opts.http);
  const probes = deps.probes ?? networkProbes;
  let what: string;
  let attempt;
  if (opts.container !== undefined) {
    // With a target too, the target is what a proxy forwards to (a published port): the app
    // behind it in the container is probed, not Docker's port proxy.
    const upstream = targetText === undefined ? undefined : parseWaitTarget(targetText);
    if (upstream !== undefined && opts.port !== undefined) throw usage('give a target or --port with --container, not both: the target already says which port');
    const port = opts.port === undefined ? undefined : parsePort(opts.port);
    what = `container "${opts.container}"${port === undefined ? '' : ` port ${port}`}${upstream === undefined ? '' : ` behind ${formatEndpoint(upstream)}`}`;
    attempt = containerAttempt(deps.provider(), opts.container, port, probe, probes, upstream);
  } else {
    if (targetText === undefined) throw usage('give a target (HOST:PORT, PORT or a socket path) or --container NAME');
    if (opts.port !== undefined) throw usage('--port goes with --container; put the port in the target (HOST:PORT)');
    const target = parseWaitTarget(targetText);
    what = formatEndpoint(target);
    attempt = addressAttempt(target, probe, probes);
  }
  const result = await waitPort({
    attempt,
    what: opts.http === undefined ? what : `${what} (GET ${opts.http})`,
    timeoutMs: timeout.value,
    clock: deps.clock ?? commandClock,
    ...(deps.signal === undefined ? {} : { signal: deps.signal }),
  });
  deps.logger.info({ target: what, attempts: result.attempts, elapsed: formatMs(result.elapsedMs) }, 'ready');
}

function httpProbe(path: string): ProbeKind {
  if (!path.startsWith('/')) throw usage(`--http: expected a path starting with "/", got "${path}"`);
  return { kind: 'http', path, statusMin: 200, statusMax: 399, host: undefined };
}

function parsePort(text: string): number {
  const port = Number(text);
  if (!/^\d+$/.test(text) || port < 1 || port > 65_535) throw usage(`--port: expected a port number 1-65535, got "${text}"`);
  return port;
}

function usage(message: string): PortwakeError {
  return new PortwakeError('USAGE', `wait-port: ${message}`);
}
