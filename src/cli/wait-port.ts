// `portwake wait-port`: argv → probe an address, or a container's own address, until it answers or
// the timeout passes (the probes and the wait loop are loaded when the command runs). Exits 0 once
// ready; a timeout rejects with a PortwakeError (READY_TIMEOUT) that main.ts turns into one line and
// a non-zero exit code.

import type { Command } from 'commander';
import type { Clock } from '../core/clock.ts';
import { formatMs, PortwakeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Provider } from '../core/provider.ts';
import type { Probes } from '../core/readiness.ts';
import type { ProbeKind } from '../probes/wait-port-targets.ts';

export interface WaitPortDeps {
  logger: Logger;
  /** The container engine; called only for --container. */
  provider(): Provider;
  /** Ends the wait early (SIGTERM); default: never. */
  signal?: AbortSignal;
  /** Injected for tests. */
  clock?: Clock;
  probes?: Probes;
}

export interface WaitPortOptions {
  timeout: string;
  container?: string;
  port?: string;
  http?: string;
}

export const DEFAULT_WAIT_TIMEOUT = '60s';

/** Adds `wait-port [target]` to the program. */
export function register(program: Command, deps: WaitPortDeps): void {
  program
    .command('wait-port')
    .description('wait until a port really answers (e.g. as ExecStartPost= of a container unit); exit 0 once ready, non-zero on timeout')
    .argument('[target]', 'HOST:PORT, [IPv6]:PORT, PORT (on 127.0.0.1) or a Unix socket path')
    .option('--timeout <duration>', 'give up after this long', DEFAULT_WAIT_TIMEOUT)
    .option('--container <name>', "probe this container's own address instead of a fixed one (not fooled by a published port)")
    .option('--port <port>', 'with --container: the port inside the container (default: its only exposed port)')
    .option('--http <path>', 'require an HTTP answer (status 200-399) to GET path, not just a connection')
    .action(async (target: string | undefined, opts: WaitPortOptions) => {
      await waitPortCommand(target, opts, deps);
    });
}

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

async function waitPortCommand(targetText: string | undefined, opts: WaitPortOptions, deps: WaitPortDeps): Promise<void> {
  const [{ parseDuration }, { formatEndpoint }, { networkProbes }, { addressAttempt, containerAttempt, parseWaitTarget }, { waitPort }] = await Promise.all([
    import('../config/duration.ts'),
    import('../core/upstream.ts'),
    import('../probes/index.ts'),
    import('../probes/wait-port-targets.ts'),
    import('../probes/wait-port.ts'),
  ]);
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
