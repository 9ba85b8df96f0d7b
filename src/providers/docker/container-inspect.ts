// GET /containers/{name}/json, mapped to the core's ContainerInfo.

import type { ContainerInfo, ContainerNetwork, ContainerStatus, HealthStatus, PublishedPort } from '../../core/provider.ts';
import type { DockerClient } from './client.ts';
import { engineCall, INSPECT_TIMEOUT_MS } from './deadlines.ts';
import { mapDockerError } from './errors.ts';

/** The parts of the engine's inspect JSON that portwake reads (API 1.41 field names). */
export interface InspectJson {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; ExitCode?: number; StartedAt?: string; Health?: { Status?: string } | null };
  Config?: { ExposedPorts?: Record<string, unknown> | null; Healthcheck?: { Test?: string[] | null } | null } | null;
  HostConfig?: { NetworkMode?: string; PortBindings?: Record<string, PortBinding[] | null> | null; RestartPolicy?: { Name?: string } | null } | null;
  NetworkSettings?: {
    Ports?: Record<string, PortBinding[] | null> | null;
    Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string } | null> | null;
  } | null;
}

interface PortBinding { HostIp?: string; HostPort?: string }

/** Inspects a container by name or id. Rejects with ContainerNotFoundError on 404, EngineTimeoutError after INSPECT_TIMEOUT_MS. */
export function inspectContainer(client: DockerClient, endpoint: string, container: string, caller?: AbortSignal): Promise<ContainerInfo> {
  return engineCall(INSPECT_TIMEOUT_MS, caller, (signal) => inspectOnce(client, endpoint, container, signal));
}

async function inspectOnce(client: DockerClient, endpoint: string, container: string, signal: AbortSignal): Promise<ContainerInfo> {
  try {
    const api = await client();
    signal.throwIfAborted();
    const { json } = await api.call('GET', `/containers/${encodeURIComponent(container)}/json`, undefined, signal);
    if (typeof json !== 'object' || json === null || typeof (json as { State?: unknown }).State !== 'object') {
      throw new Error(`the engine's inspect answer is not a container's JSON: ${JSON.stringify(json)?.slice(0, 200) ?? 'no body'}`);
    }
    return toContainerInfo(json as InspectJson);
  } catch (err) {
    throw mapDockerError(err, { endpoint, operation: 'inspect', container, signal });
  }
}

const STATUSES: readonly ContainerStatus[] = ['created', 'running', 'paused', 'restarting', 'removing', 'exited', 'dead'];
const HEALTH: readonly HealthStatus[] = ['none', 'starting', 'healthy', 'unhealthy'];

/** Pure mapping, exported for tests. */
export function toContainerInfo(json: InspectJson): ContainerInfo {
  const status = STATUSES.find((s) => s === json.State.Status) ?? 'dead';
  const health = HEALTH.find((h) => h === json.State.Health?.Status) ?? 'none';
  const test = json.Config?.Healthcheck?.Test ?? [];
  const mode = json.HostConfig?.NetworkMode ?? 'default';
  return {
    id: json.Id,
    name: json.Name.replace(/^\//, ''),
    status,
    running: json.State.Running,
    health,
    // The engine reports 0 for containers that never exited; only a stopped container has a real code.
    exitCode: status === 'exited' || status === 'dead' ? json.State.ExitCode : undefined,
    exposedPorts: exposedPorts(json),
    published: published(json),
    networks: networks(json),
    // 'default' is what the engine stores when no mode was asked for: the bridge on Linux.
    networkMode: mode === 'default' ? 'bridge' : mode,
    hasHealthcheck: test.length > 0 && test[0] !== 'NONE',
    startedAt: engineTime(json.State.StartedAt),
    // The engine stores "" for a container created without --restart: the same as "no".
    restartPolicy: json.HostConfig?.RestartPolicy?.Name === undefined || json.HostConfig.RestartPolicy.Name === '' ? 'no' : json.HostConfig.RestartPolicy.Name,
  };
}

/** An RFC 3339 time from the engine in ms; the zero time "0001-01-01T00:00:00Z" means never. */
function engineTime(text: string | undefined): number | undefined {
  if (text === undefined || text.startsWith('0001-')) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** "80/tcp" → 80; other protocols → undefined. */
function tcpPort(key: string): number | undefined {
  const m = /^(\d+)(?:\/tcp)?$/.exec(key);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function exposedPorts(json: InspectJson): number[] {
  const keys = [
    ...Object.keys(json.Config?.ExposedPorts ?? {}),
    ...Object.keys(json.HostConfig?.PortBindings ?? {}),
    ...Object.keys(json.NetworkSettings?.Ports ?? {}),
  ];
  const ports = new Set<number>();
  for (const k of keys) {
    const p = tcpPort(k);
    if (p !== undefined) ports.add(p);
  }
  return [...ports].sort((a, b) => a - b);
}

/**
 * While running: the actual bindings (NetworkSettings.Ports). While stopped: the configured
 * bindings with a fixed host port (an engine-chosen port is only known once running).
 */
function published(json: InspectJson): PublishedPort[] {
  const live = json.State.Running ? json.NetworkSettings?.Ports : json.HostConfig?.PortBindings;
  const out: PublishedPort[] = [];
  for (const [key, bindings] of Object.entries(live ?? {})) {
    const containerPort = tcpPort(key);
    if (containerPort === undefined) continue;
    for (const b of bindings ?? []) {
      const hostPort = Number(b.HostPort ?? '');
      if (!Number.isInteger(hostPort) || hostPort <= 0) continue;
      out.push({ containerPort, hostIp: b.HostIp === undefined || b.HostIp === '' ? '0.0.0.0' : b.HostIp, hostPort });
    }
  }
  return out.sort((a, b) => a.containerPort - b.containerPort); // stable: keeps the engine's order (IPv4 first)
}

function networks(json: InspectJson): ContainerNetwork[] {
  return Object.entries(json.NetworkSettings?.Networks ?? {}).map(([name, n]) => ({
    name,
    ipAddress: n?.IPAddress ?? '',
    globalIPv6Address: n?.GlobalIPv6Address ?? '',
  }));
}
