// The contract between the proxy (which owns sockets) and an activated service (which owns the
// container's lifecycle). The proxy depends on this interface only, never on a provider.

import type { Endpoint } from './provider.ts';

export type RefusalReason = 'max_connections' | 'max_pending' | 'start_failed' | 'shutting_down' | 'fd_limit' | 'hold_timeout' | 'backing_off' | 'wake_refused';

/**
 * What a frontend knows of a connection or request that would start a stopped service, for its wake
 * filter (`wake:`): the client's address always; method, path and User-Agent in HTTP mode.
 */
export interface WakeRequest {
  /** The client's IP address (IPv4 or IPv6 text, as the socket reports it). */
  source: string;
  method?: string;
  path?: string;
  userAgent?: string;
}

/**
 * Why a lease is revoked: 'gone', the upstream went away (the holder resets its connection);
 * 'idle', the service is stopped for want of traffic and the connection has been silent (the
 * holder closes it in order, a FIN each way, so that a keep-alive peer sees a clean close).
 */
export type RevokeHow = 'gone' | 'idle';

/**
 * Permission to forward one connection to a ready upstream. The holder must call release() exactly
 * once when its connection is closed (further calls are ignored). While any lease is held the
 * service is not idle and will not be stopped for idleness.
 */
export interface Lease {
  readonly upstream: Endpoint;
  /**
   * True once the upstream went away underneath the connection (the container died or was stopped).
   * The holder checks it when taking the lease and then sets onRevoke, which is called at most once,
   * never after release(); either way the holder closes its connection. (A callback slot rather than
   * an AbortSignal: thousands of connections share one container, and one listener list per
   * container would make every close O(open connections).)
   */
  readonly revoked: boolean;
  onRevoke: ((how: RevokeHow) => void) | undefined;
  /** Byte counters the connection increments as it forwards (client→upstream and upstream→client). */
  bytesIn: number;
  bytesOut: number;
  release(): void;
}

export interface Backend {
  readonly name: string;
  /** Fast path for an accepted connection: a lease if the service is ready right now. */
  tryAcquire(): Lease | undefined;
  /**
   * Starts the service if needed (single flight) and resolves with a lease once it is ready. Rejects
   * with a PortwakeError when the start fails, or with signal.reason when the caller gives up.
   */
  acquire(signal: AbortSignal): Promise<Lease>;
  /**
   * A connection is about to wait for the service: start it now if it is stopped (or failed), so
   * that the start request is on its way before the caller sets the connection up; acquire() then
   * joins that start. Never throws.
   */
  prepare(): void;
  /**
   * May this connection or request have the service started? True when the service is up or
   * starting already (all traffic flows then), or when its wake filter lets the request start it. A
   * frontend asks before prepare()/acquire() for a connection that tryAcquire() did not serve; on
   * false it refuses the connection (refused('wake_refused'): L4 closes it, HTTP answers 503).
   */
  mayWake(request: WakeRequest): boolean;
  /**
   * A leased upstream could not be connected: the app may have died since it was ready. The service
   * re-inspects its container (and returns to stopped if it is gone) before this resolves, so a
   * following acquire() either gets a live upstream or starts the container again. Never rejects.
   */
  upstreamFailed(upstream: Endpoint, error: Error): Promise<void>;
  /** The frontend tells the service how many connections it is holding (for status and metrics). */
  setHeld(delta: number): void;
  /** The frontend refused a connection; the service logs it (rate-limited) and counts it. */
  refused(reason: RefusalReason): void;
}
