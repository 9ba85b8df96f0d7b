// One proxied connection whose bytes native code moves from the start (native.ts, src/native/conn.c):
// a client accepted by a native listener while its service was ready. The addon owns the client's
// descriptor from forward() until its end report, which closes it or gives it back (its upstream
// never connected); JavaScript keeps what the rest of portwake needs: the lease, one idempotent
// close(), and the end report. The reasons, the hand-back of a client whose upstream refused, and
// the reset semantics are those of connection.ts, so the frontend treats both kinds alike.

import net from 'node:net';
import { constants } from 'node:os';
import type { Lease, RevokeHow } from '../../core/backend.ts';
import type { Clock } from '../../core/clock.ts';
import type { Endpoint } from '../../core/provider.ts';
import { formatMs } from '../../core/errors.ts';
import { formatEndpoint } from '../../core/upstream.ts';
import type { CloseReason, ConnectionEnd, Unconnected } from './connection-end.ts';
import { isFdLimit, stoppedWhileConnecting } from './upstream-connect.ts';
import { adoptClient, closeClient, Handoff, type ClientFd } from '../handoff.ts';
import { abortNative, forwardNative, nativeCounts, systemError, type NativeEnd, type NativeId, type NativeUpstream, type NotForwarded } from '../native.ts';

const { ECONNABORTED, ETIMEDOUT } = constants.errno;

export interface NativeConnectionOptions {
  /** The accepted client (non-blocking, not read yet). The connection owns it from now on. */
  client: Handoff<'native'>;
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

/** Where the connection is; who owns the client's descriptor is in each state's comment. */
type State =
  /** The addon owns the client: forward() returned this id; its end report is to come. */
  | { kind: 'forwarding'; id: NativeId }
  /** The lease was revoked while connecting: the addon was asked to give the client back (abortNative, handBack). */
  | { kind: 'returning'; id: NativeId }
  /** forward() did not take the client: still ours, ended in a microtask like a failed connect. */
  | { kind: 'not_forwarded'; failed: NotForwarded['failed']; error: Error }
  /** close() was called: the lease is released, the end (with this reason) follows the addon's report. */
  | { kind: 'closing'; id: NativeId | undefined; reason: CloseReason; error: Error | undefined }
  | { kind: 'ended' };

export class NativeConnection implements NativeEnd {
  readonly #lease: Lease;
  readonly #clock: Clock;
  readonly #startedAt: number;
  readonly #connectTimeoutMs: number;
  readonly #onClosed: NativeConnectionOptions['onClosed'];
  readonly #onUnconnected: NativeConnectionOptions['onUnconnected'];
  #state: State;

  constructor(options: NativeConnectionOptions, upstream: NativeUpstream) {
    this.#lease = options.lease;
    this.#clock = options.clock;
    this.#startedAt = options.clock.now();
    this.#connectTimeoutMs = options.connectTimeoutMs;
    this.#onClosed = options.onClosed;
    this.#onUnconnected = options.onUnconnected;
    const forwarded = forwardNative(options.client.take(), upstream, options.spliceAfterBytes, options.connectTimeoutMs, this);
    if (typeof forwarded === 'number') {
      this.#state = { kind: 'forwarding', id: forwarded };
    } else {
      // Still ours: ended like a failed connect once the caller has registered this connection —
      // handed back when the upstream refused at once, closed when the addon failed (the upstream
      // is not at fault).
      this.#state = { kind: 'not_forwarded', failed: forwarded.failed, error: forwarded.error };
      queueMicrotask(() => this.onNativeEnd(ECONNABORTED, 1, forwarded.client, 0, 0, false));
    }
    if (this.#lease.revoked) this.close('lease_aborted');
    else this.#lease.onRevoke = this.#onLeaseAbort;
  }

  get upstream(): string {
    return formatEndpoint(this.#lease.upstream);
  }

  /** Resets both sockets (the first reason wins) and releases the lease; the end report follows. */
  close(reason: CloseReason, error?: Error): void {
    const state = this.#state;
    if (state.kind === 'closing' || state.kind === 'ended') return;
    const id = state.kind === 'not_forwarded' ? undefined : state.id;
    this.#state = { kind: 'closing', id, reason, error };
    this.#lease.onRevoke = undefined;
    if (id !== undefined) {
      // The counts as of now: the lease adds them to the service's totals when released.
      nativeCounts(id, scratch);
      this.#lease.bytesIn = scratch[0] ?? 0;
      this.#lease.bytesOut = scratch[1] ?? 0;
    }
    this.#lease.release();
    if (id !== undefined) abortNative(id, false, reason === 'idle');
  }

  /**
   * The counts, EOF flags and pending bytes as nativeCounts() fills a Float64Array(5), for the half-close check
   * (half-close.ts); false, `out` untouched, once the connection is closed or ended.
   */
  sample(out: Float64Array): boolean {
    const state = this.#state;
    if (state.kind !== 'forwarding' && state.kind !== 'returning') return false;
    nativeCounts(state.id, out);
    return true;
  }

  onNativeCounts(bytesIn: number, bytesOut: number): void {
    const kind = this.#state.kind;
    if (kind !== 'forwarding' && kind !== 'returning') return; // the lease is released: its bytes are counted
    this.#lease.bytesIn = bytesIn;
    this.#lease.bytesOut = bytesOut;
  }

  /**
   * The service stopped underneath (the lease is revoked). A connection whose upstream is still
   * connecting has sent nothing anywhere: it is handed back to be held for the next start, as a
   * refused connect is, instead of reset; one already connected is closed.
   */
  #onLeaseAbort = (how: RevokeHow): void => {
    // (close() and the end both clear onRevoke: this runs only while forwarding or not forwarded.)
    const state = this.#state;
    if (state.kind !== 'forwarding' || this.#onUnconnected === undefined || how === 'idle') {
      this.close(how === 'idle' ? 'idle' : 'lease_aborted');
      return;
    }
    this.#state = { kind: 'returning', id: state.id };
    this.#lease.onRevoke = undefined;
    abortNative(state.id, true);
  };

  /**
   * From native.ts, once: native code has closed its descriptors — all of them, or all but the
   * client's, which it gives back (`returned`; this connection owns it again and passes it on to
   * onUnconnected or closes it). Also called for a client forward() did not take.
   */
  onNativeEnd(errno: number, side: number, returned: ClientFd | undefined, bytesIn: number, bytesOut: number, spliced: boolean): void {
    const state = this.#state;
    if (state.kind === 'ended') return;
    this.#state = { kind: 'ended' };
    let reason: CloseReason;
    let error: Error | undefined;
    if (state.kind === 'closing') {
      ({ reason, error } = state);
    } else {
      this.#lease.bytesIn = bytesIn;
      this.#lease.bytesOut = bytesOut;
      this.#lease.onRevoke = undefined;
      this.#lease.release();
      ({ reason, error } = this.#why(state, errno, side, returned !== undefined));
    }
    let handedBack = false;
    if (returned !== undefined) {
      const retry = state.kind !== 'closing' && !(state.kind === 'not_forwarded' && state.failed === 'addon');
      if (retry && this.#onUnconnected !== undefined && error !== undefined && !isFdLimit(error)) {
        handedBack = true;
        this.#onUnconnected({ client: Handoff.toHeld(adoptClient(returned)), error, upstream: this.#lease.upstream });
      } else {
        // As the JavaScript path closes a client it cannot serve: an orderly close (a FIN).
        closeClient(returned);
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

  /** Why a connection nobody closed ended: from its state and the addon's report. */
  #why(state: State, errno: number, side: number, returned: boolean): { reason: CloseReason; error: Error | undefined } {
    if (state.kind === 'not_forwarded') return { reason: 'upstream_unreachable', error: state.error };
    if (returned) {
      const error = errno === ETIMEDOUT ? new Error(`connect timed out after ${formatMs(this.#connectTimeoutMs)}`)
        : errno === ECONNABORTED && state.kind === 'returning' ? stoppedWhileConnecting()
          : systemError(errno, 'connect');
      return { reason: 'upstream_unreachable', error };
    }
    if (state.kind === 'returning') return { reason: 'lease_aborted', error: undefined };
    if (errno !== 0) return { reason: side === 0 ? 'client_reset' : 'upstream_reset', error: systemError(errno, 'forward') };
    return { reason: 'done', error: undefined };
  }
}
