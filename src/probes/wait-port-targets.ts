// What `portwake wait-port` probes: a fixed address (HOST:PORT, a socket path) or a container's
// own address, looked up through the Provider contract at every attempt until it has one.

import { ContainerNotFoundError, describe, PortwakeError } from '../core/errors.ts';
import type { Endpoint, Provider } from '../core/provider.ts';
import type { ProbeOutcome, Probes, ReadySpec } from '../core/readiness.ts';
import { resolveTargets } from '../core/upstream.ts';

export type ProbeKind = { kind: 'tcp' } | Extract<ReadySpec, { kind: 'http' }>;

/**
 * "HOST:PORT", "[V6]:PORT", "PORT" or ":PORT" (127.0.0.1, as the recipe's waitport), "/path.sock"
 * or "unix:/path.sock". Throws PortwakeError USAGE with the accepted forms.
 */
export function parseWaitTarget(text: string): Endpoint {
  if (text.startsWith('unix:')) return { kind: 'unix', path: text.slice('unix:'.length) };
  if (text.startsWith('/')) return { kind: 'unix', path: text };
  const m = /^\[([0-9a-fA-F:.]+)\]:(\d+)$/.exec(text) ?? /^([^:[\]]*):(\d+)$/.exec(text) ?? /^()(\d+)$/.exec(text);
  const port = Number(m?.[2]);
  if (m === null || !Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new PortwakeError('USAGE', `wait-port: "${text}" is not HOST:PORT, [IPv6]:PORT, PORT or a socket path`);
  }
  return { kind: 'tcp', host: m[1] === undefined || m[1] === '' ? '127.0.0.1' : m[1], port };
}

/**
 * Probes a fixed address. Something may accept on the app's behalf (a published port), so a TCP
 * probe must see the connection stay open.
 */
export function addressAttempt(target: Endpoint, probe: ProbeKind, probes: Probes): (signal: AbortSignal) => Promise<ProbeOutcome> {
  return (signal) => (probe.kind === 'http' ? probes.http(target, probe, signal) : probes.tcp(target, true, signal));
}

/**
 * Probes the container's own address (port: the given one, or its only exposed port). Not running
 * yet or engine unreachable: not ready. Missing container, or no port or address to probe while
 * running: thrown, since waiting cannot fix it.
 */
/**
 * Probes the app in `container`: on its own address, or — given the `upstream` a proxy forwards to
 * (e.g. a port it publishes) — on the container port behind that address, so that Docker's port
 * proxy accepting on the app's behalf is never taken for the app.
 */
export function containerAttempt(
  provider: Provider,
  container: string,
  port: number | undefined,
  probe: ProbeKind,
  probes: Probes,
  upstream?: Endpoint,
): (signal: AbortSignal) => Promise<ProbeOutcome> {
  return async (signal) => {
    let targets;
    try {
      const info = await provider.inspect(container, signal);
      if (!info.running) return { ok: false, detail: `container "${container}" is ${info.status}` };
      targets = resolveTargets({ container, port, upstream }, info);
    } catch (err) {
      if (signal.aborted || err instanceof ContainerNotFoundError || (err instanceof PortwakeError && err.code === 'UPSTREAM_UNRESOLVED')) throw err;
      return { ok: false, detail: describe(err) };
    }
    return probe.kind === 'http' ? probes.http(targets.probe, probe, signal) : probes.tcp(targets.probe, !targets.direct, signal);
  };
}
