// What the L4 frontend is built with: its backend, listen targets, limits and timeouts, and the
// defaults of those.

import type { Backend } from '../../../core/backend.ts';
import type { Clock } from '../../../core/clock.ts';
import type { Logger } from '../../../core/logger.ts';
import type { ListenTarget } from '../../accept/listen.ts';
import type { NativePolicy } from '../../native.ts';
import type { ConnectionEnd } from '../../pipe/connection.ts';
import type { ProxyProtocolVersion } from '../../proxy-protocol.ts';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** How long one connection may be held (the daemon passes the service's holdTimeout, default its startTimeout). */
export const DEFAULT_HOLD_TIMEOUT_MS = 60_000;
/** Early bytes all held connections of a service keep in memory together. */
export const DEFAULT_MAX_HELD_BYTES = 16 * 1024 * 1024;
export type ConnectionEvent =
  | { change: 'open'; upstream: string }
  | { change: 'close'; upstream: string; end: ConnectionEnd };

export interface FrontendOptions {
  backend: Backend;
  /** Where to listen; systemd sockets arrive here already resolved to `{ kind: 'fd' }`. */
  listen: readonly ListenTarget[];
  /** Open (forwarded) plus held connections; one more is refused ('max_connections'). */
  maxConnections: number;
  /** Connections held while the service starts; one more is refused ('max_pending'). */
  maxPending: number;
  logger: Logger;
  clock?: Clock;
  /** Early bytes kept per held connection before reading pauses (default 64 KiB). */
  holdBufferBytes?: number;
  /** Early bytes kept by all held connections together; past it every held connection stops reading (default 16 MiB). */
  maxHeldBytes?: number;
  /** How long one connection may wait for the service before it is closed ('hold_timeout'; default 60 s). */
  holdTimeoutMs?: number;
  /**
   * A forwarded connection whose client has half-closed is reset when the upstream has sent
   * nothing for this long (an app that accepted but never answers); undefined: never.
   */
  halfCloseTimeoutMs?: number | undefined;
  backlog?: number;
  /** Deadline for connecting to the upstream once the service is ready (default 10 s). */
  connectTimeoutMs?: number;
  /**
   * The native data path (native.ts), when its addon is available; undefined: every byte through
   * JavaScript. TCP and inherited listeners then accept in native code, and a connection to a
   * ready service is forwarded there entirely; bulk streams move with splice(2) after
   * spliceAfterBytes, on either path.
   */
  native?: NativePolicy | undefined;
  /** Every forwarded connection's open and close (with its reason, error and byte counts). */
  onConnection?: (event: ConnectionEvent) => void;
  /**
   * The service has a wake filter (`wake:`): a natively accepted connection's start is not asked
   * for before its socket (and so its source address) is known. Backend.mayWake decides either way.
   */
  wakeFiltered?: boolean;
  /** Send a PROXY protocol header with the client's addresses to the upstream before its bytes. */
  proxyProtocol?: ProxyProtocolVersion | undefined;
}
