// The validated configuration every other module consumes. Only src/config/ builds it from a file.

import type { Endpoint } from '../core/provider.ts';
import type { ReadySpec } from '../core/readiness.ts';
import type { WakeSpec } from '../core/wake.ts';
import type { HostPattern } from './hosts.ts';
import type { TlsConfig } from './tls.ts';

export type { ReadySpec };

export type ListenSpec =
  /** host undefined: every address, IPv4 and IPv6 (":: with dual stack"). */
  | { kind: 'tcp'; host: string | undefined; port: number; text: string }
  /** mode: permission bits for the socket file (e.g. 0o660), undefined leaves the umask's. */
  | { kind: 'unix'; path: string; mode: number | undefined; text: string }
  /** A socket passed by systemd (LISTEN_FDS); name undefined takes every passed socket. */
  | { kind: 'systemd'; name: string | undefined; text: string };

/**
 * `provider: command` (providers/command/): the process portwake runs for the service, either one it
 * owns (`run:`) or one an outside manager starts and stops (`start:`/`stop:`/`status:`). Argv lists,
 * no shell.
 */
export type CommandConfig =
  | { kind: 'run'; run: string[] }
  | { kind: 'manage'; start: string[]; stop: string[]; status: string[] };

export interface ServiceConfig {
  name: string;
  /** Empty for a service reached only through the HTTP router (`hosts:`), or one only others depend on (dependsOn). */
  listen: ListenSpec[];
  /** Host names the shared HTTP and TLS listeners route to this service (`hosts:`); unset: none. */
  hosts?: HostPattern[];
  /** Path prefixes within those hosts (`paths:`); unset: every path. */
  paths?: string[];
  /** While the service starts, a browser's page load gets a waiting page ('page', the default) or waits ('block'). */
  strategy?: 'block' | 'page';
  /** The container that takes the traffic (the first of a `container:` list); for a command service, the service's name (its one "container"). */
  container: string;
  /** Set for `provider: command` (then `upstream` is set too); absent: a Docker container. */
  command?: CommandConfig | undefined;
  /** The rest of a `container:` list: started and stopped together with `container` (a group). */
  members?: string[];
  /** Services started and ready before this one's container starts, and kept up while it runs. */
  dependsOn?: string[];
  /** 'manage': portwake sets the containers' restart policy to "no"; unset or 'keep': left as it is (a warning for always/unless-stopped). */
  restartPolicy?: 'manage' | 'keep';
  /** Container port to forward to; undefined: the container's only exposed/published port. */
  port: number | undefined;
  /** Explicit upstream; undefined: the container's own address on its network, resolved per start. */
  upstream: Endpoint | undefined;
  ready: ReadySpec;
  startTimeoutMs: number;
  /** undefined: never stop for idleness. */
  idleTimeoutMs: number | undefined;
  /** What idleTimeout counts: 'connections' (none open, the default) or 'traffic' (no bytes either way). */
  idleOn?: 'connections' | 'traffic' | undefined;
  /** What the idle timeout does: 'stop' (undefined: the default) or 'pause' (docs/pause.md). */
  idleAction?: 'stop' | 'pause' | undefined;
  /** With idleAction 'pause': stop a container paused this long; undefined: it stays paused. */
  stopAfterMs?: number | undefined;
  stopTimeoutMs: number;
  maxConnections: number;
  maxPending: number;
  /** How long one connection may be held waiting for the service (undefined: startTimeoutMs). */
  holdTimeoutMs?: number | undefined;
  /** Early bytes held in memory for all of the service's held connections together (undefined: the default). */
  maxHeldBytes?: number | undefined;
  /** A client half-closed with no upstream byte since is reset after this; null: never, undefined: the default. */
  halfCloseTimeoutMs?: number | null | undefined;
  /**
   * Start limit (systemd's StartLimitBurst=/StartLimitIntervalSec=): this many failed starts within
   * the interval begin a back-off (10 s), which doubles per failed retry up to startBackoffMaxMs.
   * Unset: 5, 60 s, 5 m (the activation's START_LIMIT_DEFAULTS); a burst of 0 turns it off.
   */
  startLimitBurst?: number;
  startLimitIntervalMs?: number;
  startBackoffMaxMs?: number;
  /** Which requests may start the stopped service (`wake:`, docs/wake.md); undefined: any. */
  wake?: WakeSpec;
  /** Container port the TLS stream goes to (default 443). */
  tlsPort?: number;
  /** Send a PROXY protocol header (v1 text, v2 binary) with the client's address to the upstream first. */
  proxyProtocol?: 'v1' | 'v2';
  /** The engine (a name from engines:, or "default") whose container this is; undefined: "default". */
  engine?: string | undefined;
}

/** TLS for a tcp:// engine: PEM files, read at start. */
export interface EngineTls {
  /** Verify the engine's certificate against this CA (else the system's). */
  ca?: string;
  /** The client certificate and its key (given together). */
  cert?: string;
  key?: string;
  /** Verify the engine's certificate (default true). */
  verify: boolean;
}

/** A named engine from `engines:` (the default one is PortwakeConfig.engineHost). */
export interface EngineConfig {
  name: string;
  /** DOCKER_HOST syntax: unix:///path or tcp://host:port. Podman's API socket is one such engine. */
  host: string;
  tls?: EngineTls;
}

export interface ControlConfig {
  /** unix socket or TCP address of the control API. */
  listen: { kind: 'unix'; path: string; mode: number } | { kind: 'tcp'; host: string; port: number };
  /** Bearer token; required when listen is TCP on a non-loopback address. */
  token: string | undefined;
  /** Absolute path of a file holding the token (read at start; control/token.ts). */
  tokenFile?: string | undefined;
  /** On TCP without a token, let anyone who can connect start, stop and reload (default: refused). */
  insecureNoToken?: boolean | undefined;
}

/** Top-level `http:`: the shared listeners of the Host router (docs/http.md). */
export interface HttpConfig {
  listen: ListenSpec[];
  /** Serves requests whose host no service claims; undefined: 404. */
  defaultService: string | undefined;
  /** CIDR blocks whose X-Forwarded-* headers are kept (appended to); from anyone else they are replaced. */
  trustForwarded: string[];
  /** Set X-Forwarded-For/-Proto/-Host on proxied requests. */
  forwardedHeaders: boolean;
}

/** Services from container labels (daemon/discovery/); docs/discovery.md. */
export interface DiscoveryConfig {
  docker: {
    /** Labels `<labelPrefix>.listen`, `<labelPrefix>.port`, … describe a service. */
    labelPrefix: string;
    /** Label filters (`KEY` or `KEY=VALUE`) a container must match as well; all of them. */
    filter: string[];
  };
}

export interface PortwakeConfig {
  /** Path of the file it came from, for messages ("<flags>" for `portwake proxy`). */
  source: string;
  services: ServiceConfig[];
  /** Container engine endpoint (DOCKER_HOST syntax); undefined: DOCKER_HOST or the default socket. */
  engineHost: string | undefined;
  /** Further engines by name (engines:); absent or empty: only the default. */
  engines?: EngineConfig[] | undefined;
  control: ControlConfig | undefined;
  /** The HTTP Host router's listeners; undefined: none. */
  http?: HttpConfig | undefined;
  /** Shared TLS listeners routed by SNI (docs/tls.md); undefined: none. */
  tls?: TlsConfig;
  /** Undefined: no discovery (the file's services only). */
  discovery?: DiscoveryConfig | undefined;
}

export const DEFAULTS = {
  startTimeoutMs: 60_000,
  stopTimeoutMs: 10_000,
  maxConnections: 4096,
  maxPending: 1024,
  maxHeldBytes: 16 * 1024 * 1024,
  halfCloseTimeoutMs: 30_000,
} as const;
