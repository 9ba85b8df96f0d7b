// Where to forward and where to probe, decided from the container's inspect data at every start
// (addresses change across restarts).

import { UpstreamUnresolvedError } from './errors.ts';
import type { ContainerInfo, Endpoint } from './provider.ts';

export interface UpstreamSpec {
  container: string;
  port: number | undefined;
  upstream: Endpoint | undefined;
}

export interface Targets {
  /** Where connections are forwarded. */
  data: Endpoint;
  /** Where readiness is probed. */
  probe: Endpoint;
  /**
   * True when `probe` is the app itself (the container's own address, or host networking), so a
   * successful connect means the app listens. False when something may accept on its behalf (a
   * published port behind Docker's userland proxy): then the probe must also see the connection stay up.
   */
  direct: boolean;
}

/** Throws UpstreamUnresolvedError with the facts and the fix when no target can be decided. */
export function resolveTargets(spec: UpstreamSpec, info: ContainerInfo): Targets {
  const containerPort = pickPort(spec, info);
  const own = containerPort === undefined ? undefined : ownAddress(info, containerPort);
  if (spec.upstream !== undefined) {
    return own === undefined
      ? { data: spec.upstream, probe: spec.upstream, direct: false }
      : { data: spec.upstream, probe: own, direct: true };
  }
  if (containerPort === undefined) {
    throw new UpstreamUnresolvedError(describePortProblem(spec, info));
  }
  if (own === undefined) {
    throw new UpstreamUnresolvedError(
      `container "${spec.container}" has no address portwake can reach (network mode "${info.networkMode}"); ` +
        'set upstream: HOST:PORT (e.g. its published port) in the service',
    );
  }
  return { data: own, probe: own, direct: true };
}

function pickPort(spec: UpstreamSpec, info: ContainerInfo): number | undefined {
  if (spec.port !== undefined) return spec.port;
  const upstream = spec.upstream;
  if (upstream?.kind === 'tcp') {
    const published = info.published.find((p) => p.hostPort === upstream.port);
    if (published !== undefined) return published.containerPort;
  }
  if (info.exposedPorts.length === 1) return info.exposedPorts[0];
  return undefined;
}

/** Why no container port can be decided for this spec, undefined when one can (for `portwake check`). */
export function portProblem(spec: UpstreamSpec, info: ContainerInfo): string | undefined {
  if (spec.upstream !== undefined || pickPort(spec, info) !== undefined) return undefined;
  return describePortProblem(spec, info);
}

function describePortProblem(spec: UpstreamSpec, info: ContainerInfo): string {
  if (info.exposedPorts.length === 0) {
    return `container "${spec.container}" exposes no TCP port; set port: (the port the app listens on inside the container)`;
  }
  return `container "${spec.container}" exposes several ports (${info.exposedPorts.join(', ')}); set port: to one of them`;
}

function ownAddress(info: ContainerInfo, port: number): Endpoint | undefined {
  if (info.networkMode === 'host') return { kind: 'tcp', host: '127.0.0.1', port };
  for (const n of info.networks) if (n.ipAddress !== '') return { kind: 'tcp', host: n.ipAddress, port };
  for (const n of info.networks) if (n.globalIPv6Address !== '') return { kind: 'tcp', host: n.globalIPv6Address, port };
  return undefined;
}

/** Endpoints are shared by every connection to one container run: each is formatted once. */
const formatted = new WeakMap<Endpoint, string>();

export function formatEndpoint(e: Endpoint): string {
  let text = formatted.get(e);
  if (text === undefined) {
    text = e.kind === 'unix' ? `unix:${e.path}` : e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
    formatted.set(e, text);
  }
  return text;
}
