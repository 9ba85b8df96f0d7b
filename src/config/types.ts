// The validated configuration every other module consumes. Only src/config/ builds it from a file.

import type { Endpoint } from '../core/provider.ts';
import type { ReadySpec } from '../core/readiness.ts';
import type { HostPattern } from './hosts.ts';

export type { ReadySpec };

export type ListenSpec =
  /** host undefined: every address, IPv4 and IPv6 (":: with dual stack"). */
  | { kind: 'tcp'; host: string | undefined; port: number; text: string }
  /** mode: permission bits for the socket file (e.g. 0o660), undefined leaves the umask's. */
  | { kind: 'unix'; path: string; mode: number | undefined; text: string }
  /** A socket passed by systemd (LISTEN_FDS); name undefined takes every passed socket. */
  | { kind: 'systemd'; name: string | undefined; text: string };

export interface ServiceConfig {
  name: string;
  /** Empty for a service reached only through the HTTP router (`hosts:`). */
  listen: ListenSpec[];
  /** Host names the shared HTTP listeners route to this service (`hosts:`); unset: none. */
  hosts?: HostPattern[];
  /** Path prefixes within those hosts (`paths:`); unset: every path. */
  paths?: string[];
  /** While the service starts, a browser's page load gets a waiting page ('page', the default) or waits ('block'). */
  strategy?: 'block' | 'page';
  container: string;
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
  control: ControlConfig | undefined;
  /** The HTTP Host router's listeners; undefined: none. */
  http?: HttpConfig | undefined;
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
