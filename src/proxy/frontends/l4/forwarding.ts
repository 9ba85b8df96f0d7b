// Where a connection's bytes start to move: the L4 frontend's open (forwarded) connections — a
// client with its lease handed to a Connection (JavaScript, spliced once bulk) or, for a natively
// accepted client of an upstream by address, a NativeConnection — their half-close bound, and what
// their close reports.

import type { Lease } from '../../../core/backend.ts';
import type { Clock } from '../../../core/clock.ts';
import { adoptClient, Handoff, type ClientFd } from '../../handoff.ts';
import { Connection, type ConnectionEnd, type Unconnected } from '../../pipe/connection.ts';
import { HalfCloseSweep } from '../../pipe/half-close.ts';
import { NativeConnection, nativeUpstream } from '../../pipe/native-connection.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS, type FrontendOptions } from './options.ts';
import type { Forwarded, FrontendReports } from './reports.ts';
import { withPort, withProxyHeader } from './route.ts';

export interface ForwardingOptions {
  /** The frontend's options, read at each connection: a reload changes proxyProtocol in place. */
  options: FrontendOptions;
  clock: Clock;
  reports: FrontendReports;
  /** A connect the upstream refused before any byte went through: the client goes back to be held once. */
  retry: (u: Unconnected) => void;
  /** An open connection closed. */
  closed: () => void;
}

export class Forwarding {
  readonly #o: ForwardingOptions;
  readonly #connectTimeoutMs: number;
  readonly #open = new Set<Forwarded>();
  /** Forwarded connections whose client half-closed and whose upstream has not finished. */
  #halfClosed = 0;
  readonly #halfClose: { timeoutMs: number; count: (delta: number) => void } | undefined;
  /** The same bound for connections forwarded natively from the first byte. */
  readonly #halfCloseSweep: HalfCloseSweep | undefined;

  constructor(options: ForwardingOptions) {
    this.#o = options;
    const { options: o, clock } = options;
    this.#halfClose = o.halfCloseTimeoutMs === undefined ? undefined : {
      timeoutMs: o.halfCloseTimeoutMs,
      count: (delta) => {
        this.#halfClosed += delta;
      },
    };
    this.#halfCloseSweep = this.#halfClose === undefined || o.native === undefined ? undefined
      : new HalfCloseSweep(clock, this.#halfClose.timeoutMs, this.#halfClose.count, () => this.#nativeOpen());
    // Whole milliseconds, at least one: native code takes an integer deadline.
    this.#connectTimeoutMs = Math.max(1, Math.round(o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS));
  }

  /** Forwarded connections still open (including ones whose sockets are being torn down). */
  get count(): number {
    return this.#open.size;
  }

  /** Of the open connections, those whose client half-closed while the upstream has not finished. */
  get halfClosed(): number {
    return this.#halfClosed;
  }

  /**
   * A reload's halfCloseTimeout: applies at the next check of each connection. Turning it on or off
   * needs a restart: returns false then (the caller says so).
   */
  setHalfCloseTimeout(timeoutMs: number | undefined): boolean {
    const halfClose = this.#halfClose;
    if (halfClose !== undefined && timeoutMs !== undefined) {
      halfClose.timeoutMs = timeoutMs;
      this.#halfCloseSweep?.retime(timeoutMs);
      return true;
    }
    return (halfClose === undefined) === (timeoutMs === undefined);
  }

  /** Resets every open connection (the grace period of a shutdown is over). */
  closeAll(): void {
    for (const connection of [...this.#open]) connection.close('shutdown');
  }

  /** Every connection is gone: the half-close sweep stops. */
  stop(): void {
    this.#halfCloseSweep?.stop();
  }

  /** A natively accepted client with its lease: forwarded natively, where the upstream allows. */
  forwardFd(fd: ClientFd, lease: Lease): void {
    const policy = this.#o.options.native;
    const upstream = nativeUpstream(lease);
    // A PROXY header goes first as an early byte, which the JavaScript connection sends (and then hands to the splice pump).
    if (policy === undefined || upstream === undefined || this.#o.options.proxyProtocol !== undefined) {
      this.forward(Handoff.toConnection(adoptClient(fd)), lease);
      return;
    }
    const connection = new NativeConnection({
      client: Handoff.toNative(fd),
      lease,
      clock: this.#o.clock,
      connectTimeoutMs: this.#connectTimeoutMs,
      spliceAfterBytes: policy.spliceAfterBytes,
      onClosed: this.#onClosed,
      onUnconnected: this.#o.retry,
    }, upstream);
    this.#opened(connection);
  }

  /** `port`: another port of the service's upstream (a routed connection; see Frontend.admit()). */
  forward(client: Handoff<'connection'>, lease: Lease, retry = true, port?: number): void {
    const routed = withPort(lease, port);
    const version = this.#o.options.proxyProtocol;
    let next = client;
    if (version !== undefined) {
      // The PROXY header goes in front of the client's early bytes: the client is handed on with them.
      const { socket, early } = client.take();
      next = Handoff.toConnection(socket, withProxyHeader(socket, early, version));
    }
    const connection = new Connection({
      client: next,
      lease: routed,
      clock: this.#o.clock,
      connectTimeoutMs: this.#connectTimeoutMs,
      onClosed: this.#onClosed,
      // On another port than the service's own, a refused connect is not retried: upstreamFailed would not know that upstream.
      onUnconnected: retry && routed === lease ? this.#o.retry : undefined,
      native: this.#o.options.native,
      halfClose: this.#halfClose,
    });
    this.#opened(connection);
  }

  #opened(connection: Forwarded): void {
    this.#open.add(connection);
    this.#halfCloseSweep?.ensure();
    this.#o.options.onConnection?.({ change: 'open', upstream: connection.upstream });
  }

  /** What the half-close sweep samples: every open connection (a JavaScript one only while spliced). */
  *#nativeOpen(): Generator<Forwarded> {
    yield* this.#open;
  }

  #onClosed = (connection: Forwarded, end: ConnectionEnd): void => {
    this.#open.delete(connection);
    this.#halfCloseSweep?.forget(connection);
    this.#o.reports.connectionClosed(connection, end, this.#halfClose?.timeoutMs);
    this.#o.options.onConnection?.({ change: 'close', upstream: connection.upstream, end });
    this.#o.closed();
  };
}
