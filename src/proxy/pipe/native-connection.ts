// One proxied connection whose bytes native code moves from the start (native.ts, src/native/conn.c):
// a client accepted by a native listener while its service was ready. JavaScript keeps only what
// the rest of portwake needs: the lease, one idempotent close(), and the end report. The reasons,
// the hand-back of a client whose upstream refused, and the reset semantics are those of
// connection.ts, so the frontend treats both kinds alike.

import net from 'node:net';
import { constants } from 'node:os';
import type { Lease, RevokeHow } from '../../core/backend.ts';
import type { Clock } from '../../core/clock.ts';
import type { Endpoint } from '../../core/provider.ts';
import { formatMs } from '../../core/errors.ts';
import { formatEndpoint } from '../../core/upstream.ts';
import { isFdLimit, NO_EARLY, stoppedWhileConnecting, type CloseReason, type ConnectionEnd, type Unconnected } from './connection.ts';
import { abortNative, adoptSocket, closeDescriptor, forwardNative, nativeCounts, systemError, type NativeEnd, type NativeId, type NativeUpstream } from '../native.ts';

const { ECONNABORTED, ETIMEDOUT } = constants.errno;

export interface NativeConnectionOptions {
  /** The accepted client's descriptor (non-blocking, not read yet). The connection owns it. */
  fd: number;
  /** Released exactly once, when the connection closes. */
  lease: Lease;
  clock: Clock;
  connectTimeoutMs: number;
  /** Bytes moved before a bulk direction switches to splice(2); negative: never. */
  spliceAfterBytes: number;
  /** Called once, after close() and after native code has closed its descriptors. */
  onClosed: (connection: NativeConnection, end: ConnectionEnd) => void;
  /** As in connection.ts: a client whose upstream could not be connected goes here, untouched. */
  onUnconnected?: ((u: Unconnected) => void) | undefined;
}

/** Endpoints are shared by every connection to one container run: each is looked at once. */
const nativeUpstreams = new WeakMap<Endpoint, NativeUpstream | null>();

/** Where native code can connect without a name lookup: an IP literal, or a Unix socket. */
export function nativeUpstream(lease: Lease): NativeUpstream | undefined {
  const u = lease.upstream;
  let native = nativeUpstreams.get(u);
  if (native === undefined) {
    native = u.kind === 'unix' ? { path: u.path } : net.isIP(u.host) !== 0 && !u.host.includes('%') ? { host: u.host, port: u.port } : null;
    nativeUpstreams.set(u, native);
  }
  return native ?? undefined;
}

const scratch = new Float64Array(2);

export class NativeConnection implements NativeEnd {
  readonly #fd: number;
  readonly #lease: Lease;
  readonly #clock: Clock;
  readonly #startedAt: number;
  readonly #connectTimeoutMs: number;
  readonly #onClosed: NativeConnectionOptions['onClosed'];
  readonly #onUnconnected: NativeConnectionOptions['onUnconnected'];
  /** The native connection; undefined when its connect failed at once (the end follows in a microtask). */
  readonly #id: NativeId | undefined;
  /** Set by close(): the end is reported with this reason once native code is done. */
  #closedAs: { reason: CloseReason; error: Error | undefined } | undefined;
  /** forward() threw: why. The client is closed at the end, not handed back. */
  #notTaken: Error | undefined;
  /** The lease was revoked and the end is still to come (handed back if it was connecting). */
  #revoked = false;
  #ended = false;

  constructor(options: NativeConnectionOptions, upstream: NativeUpstream) {
    this.#fd = options.fd;
    this.#lease = options.lease;
    this.#clock = options.clock;
    this.#startedAt = options.clock.now();
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#onClosed = options.onClosed;
    this.#onUnconnected = options.onUnconnected;
    let id: NativeId | NodeJS.ErrnoException;
    try {
      id = forwardNative(options.fd, upstream, options.spliceAfterBytes, options.connectTimeoutMs, this);
    } catch (err) {
      // The addon could not take the connection (no memory for it, say): nothing changed, the
      // client and the lease are still ours. Ended like a failed connect, without the hand-back
      // (the upstream is not at fault): the lease is released and the client closed.
      this.#notTaken = err instanceof Error ? err : new Error(String(err));
      id = systemError(ECONNABORTED, 'forward');
    }
    if (typeof id === 'number') {
      this.#id = id;
    } else {
      // Refused at once (or no socket): reported like a failed connect, after the caller has
      // registered this connection.
      const errno = -(id.errno ?? 0);
      queueMicrotask(() => this.onNativeEnd(errno, 1, true, 0, 0, false));
      this.#id = undefined;
    }
    if (this.#lease.revoked) this.close('lease_aborted');
    else this.#lease.onRevoke = this.#onLeaseAbort;
  }

  get upstream(): string {
    return formatEndpoint(this.#lease.upstream);
  }

  /** Resets both sockets (the first reason wins) and releases the lease; the end report follows. */
  close(reason: CloseReason, error?: Error): void {
    if (this.#closedAs !== undefined || this.#ended) return;
    this.#closedAs = { reason, error };
    this.#lease.onRevoke = undefined;
    if (this.#id !== undefined) {
      // The counts as of now: the lease adds them to the service's totals when released.
      nativeCounts(this.#id, scratch);
      this.#lease.bytesIn = scratch[0] ?? 0;
      this.#lease.bytesOut = scratch[1] ?? 0;
    }
    this.#lease.release();
    if (this.#id !== undefined) abortNative(this.#id, false, reason === 'idle');
  }

  /**
   * The counts, EOF flags and pending bytes as nativeCounts() fills a Float64Array(5), for the half-close check
   * (half-close.ts); false, `out` untouched, once the connection is closed or ended.
   */
  sample(out: Float64Array): boolean {
    if (this.#id === undefined || this.#closedAs !== undefined || this.#ended) return false;
    nativeCounts(this.#id, out);
    return true;
  }

  onNativeCounts(bytesIn: number, bytesOut: number): void {
    if (this.#closedAs !== undefined || this.#ended) return; // the lease is released: its bytes are counted
    this.#lease.bytesIn = bytesIn;
    this.#lease.bytesOut = bytesOut;
  }

  /**
   * The service stopped underneath (the lease is revoked). A connection whose upstream is still
   * connecting has sent nothing anywhere: it is handed back to be held for the next start, as a
   * refused connect is, instead of reset; one already connected is closed.
   */
  #onLeaseAbort = (how: RevokeHow): void => {
    // (close() and the end both clear onRevoke: this runs only while the connection is live.)
    if (this.#id === undefined || this.#onUnconnected === undefined || how === 'idle') {
      this.close(how === 'idle' ? 'idle' : 'lease_aborted');
      return;
    }
    this.#revoked = true;
    this.#lease.onRevoke = undefined;
    abortNative(this.#id, true);
  };

  /** From native.ts, once: native code has closed its descriptors (and returned the client's, if it says so). */
  onNativeEnd(errno: number, side: number, clientReturned: boolean, bytesIn: number, bytesOut: number, spliced: boolean): void {
    if (this.#ended) return;
    this.#ended = true;
    let handedBack = false;
    let reason: CloseReason = this.#closedAs?.reason ?? 'done';
    let error = this.#closedAs?.error;
    if (this.#closedAs === undefined) {
      this.#lease.bytesIn = bytesIn;
      this.#lease.bytesOut = bytesOut;
      this.#lease.onRevoke = undefined;
      this.#lease.release();
      if (clientReturned) {
        reason = 'upstream_unreachable';
        error = this.#notTaken ?? (errno === ETIMEDOUT ? new Error(`connect timed out after ${formatMs(this.#connectTimeoutMs)}`)
          : errno === ECONNABORTED && this.#revoked ? stoppedWhileConnecting()
            : systemError(errno, 'connect'));
      } else if (this.#revoked) {
        reason = 'lease_aborted';
      } else if (errno !== 0) {
        reason = side === 0 ? 'client_reset' : 'upstream_reset';
        error = systemError(errno, 'forward');
      }
    }
    if (clientReturned) {
      if (this.#closedAs === undefined && this.#onUnconnected !== undefined && error !== undefined && !isFdLimit(error) && this.#notTaken === undefined) {
        handedBack = true;
        this.#onUnconnected({ client: adoptSocket(this.#fd), early: NO_EARLY, error, upstream: this.#lease.upstream });
      } else {
        // As the JavaScript path closes a client it cannot serve: an orderly close (a FIN).
        closeDescriptor(this.#fd);
      }
    }
    this.#onClosed(this, {
      reason,
      error,
      bytesIn: this.#lease.bytesIn,
      bytesOut: this.#lease.bytesOut,
      durationMs: this.#clock.now() - this.#startedAt,
      handedBack,
      spliced,
    });
  }
}
