// One proxied connection on the JavaScript path: the owner of a client socket, of the upstream
// socket it opens, and of the lease that keeps the service awake — from Handoff<'connection'> to
// its one idempotent close() (STYLE.md habit 6). Its steps live beside it: the upstream connect
// (upstream-connect.ts), the copy and half-close (copy.ts), the splice pump (native.ts); the end
// report and its reasons are in connection-end.ts. docs/connections.md draws its states.

import type net from 'node:net';
import type { Lease, RevokeHow } from '../../core/backend.ts';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import { formatMs } from '../../core/errors.ts';
import { formatEndpoint } from '../../core/upstream.ts';
import { Handoff, type EarlyData } from '../handoff.ts';
import { resetSocket } from '../sockets.ts';
import type { NativePolicy, SpliceEnd, SplicePump } from '../native.ts';
import { Copy } from './copy.ts';
import type { CloseReason, ConnectionEnd, Unconnected } from './connection-end.ts';
import { isFdLimit, openUpstream, stoppedWhileConnecting } from './upstream-connect.ts';

export { describeEnd, type CloseReason, type ConnectionEnd, type Unconnected } from './connection-end.ts';
export { isFdLimit, stoppedWhileConnecting } from './upstream-connect.ts';

export interface ConnectionOptions {
  /** Accepted (or held), paused, allowHalfOpen, with its early bytes. The connection owns it from now on. */
  client: Handoff<'connection'>;
  /** Released exactly once, when the connection closes. */
  lease: Lease;
  clock: Clock;
  connectTimeoutMs: number;
  /** Called once, after close() and after both sockets have released their file descriptors. */
  onClosed: (connection: Connection, end: ConnectionEnd) => void;
  /**
   * When given and the upstream cannot be connected (refused, unreachable, timed out), the client
   * is not closed but handed to this callback, untouched, for another try; the connection then
   * closes as 'upstream_unreachable' without touching the client.
   */
  onUnconnected?: ((u: Unconnected) => void) | undefined;
  /**
   * When given (and the addon is available), a bulk stream is handed to the zero-copy pump once
   * it has moved native.spliceAfterBytes (see native.ts); undefined: every byte goes through JavaScript.
   */
  native?: NativePolicy | undefined;
  /**
   * Once the client has half-closed, the upstream must send something at least every timeoutMs
   * (or finish), else the connection is reset ('half_closed_timeout'): an app that accepted but
   * never answers would otherwise keep it open for good. `count` hears +1 when the client
   * half-closes and -1 when the upstream finishes or the connection closes. Undefined: no bound.
   */
  halfClose?: { timeoutMs: number; count: (delta: number) => void } | undefined;
}

/** Where the connection is; each state says who moves the bytes. */
type State =
  /** The upstream socket is connecting; the client is not read (its bytes wait in the kernel), `early` kept for a hand-back. */
  | { kind: 'connecting'; timer: TimerHandle; early: EarlyData }
  /** The copy step moves the bytes (copy.ts). */
  | { kind: 'copying' }
  /** The splice pump moves them, on duplicates of both descriptors (our sockets are destroyed). */
  | { kind: 'spliced'; pump: SplicePump; baseIn: number; baseOut: number }
  /** Closed; the end is reported once the sockets (and a pump) have let go of their descriptors. */
  | { kind: 'closed'; reason: CloseReason; error: Error | undefined; pumpLive: boolean; spliced: boolean; handedBack: boolean };

/**
 * The constructor starts connecting to lease.upstream at once. Every failure — a socket error, the
 * connect deadline, a revoked lease, the half-close bound, the pump's end — comes to close().
 */
export class Connection {
  readonly #client: net.Socket;
  readonly #upstream: net.Socket;
  readonly #copy: Copy;
  readonly #lease: Lease;
  readonly #clock: Clock;
  readonly #onClosed: ConnectionOptions['onClosed'];
  readonly #onUnconnected: ConnectionOptions['onUnconnected'];
  readonly #startedAt: number;
  #state: State;
  /** Sockets that have not emitted 'close' yet (their descriptor is still open); -1 once reported. */
  #liveSockets = 2;

  constructor(options: ConnectionOptions) {
    const { socket: client, early } = options.client.take();
    const lease = options.lease;
    this.#client = client;
    this.#lease = lease;
    this.#clock = options.clock;
    this.#onClosed = options.onClosed;
    this.#onUnconnected = options.onUnconnected;
    this.#startedAt = options.clock.now();
    this.#copy = new Copy({
      client,
      lease,
      clock: options.clock,
      native: options.native,
      halfClose: options.halfClose,
      halfClosedTimeout: () => this.close('half_closed_timeout'),
      spliced: this.#onSpliced,
      spliceEnded: this.#onSpliceEnd,
      spliceCounts: this.#onSpliceCounts,
    }, (onread) => openUpstream(lease.upstream, onread));
    const up = this.#upstream = this.#copy.upstream;
    this.#state = {
      kind: 'connecting',
      early,
      timer: this.#clock.setTimer(options.connectTimeoutMs, () => {
        this.close('upstream_unreachable', new Error(`connect timed out after ${formatMs(options.connectTimeoutMs)}`));
      }),
    };
    // Handlers are bound once per connection; nothing is allocated per chunk.
    client.on('error', this.#onClientError);
    client.on('close', this.#onSocketClose);
    up.on('error', this.#onUpstreamError);
    up.on('close', this.#onSocketClose);
    up.once('connect', this.#onUpstreamConnect);
    // The client is not read until the upstream is connected: its bytes wait in the kernel, so a
    // refused connect can hand the client back intact for another try.

    if (lease.revoked) this.close('lease_aborted');
    else lease.onRevoke = this.#onLeaseAbort;
  }

  /**
   * For the half-close sweep (half-close.ts): once handed to the splice pump, the half-close
   * happens in native code; before that, the copy step's own timer watches it (false here).
   */
  sample(out: Float64Array): boolean {
    const state = this.#state;
    return state.kind === 'spliced' && state.pump.sample(out);
  }

  /** Upstream address as text, for logs. */
  get upstream(): string {
    return formatEndpoint(this.#lease.upstream);
  }

  get closed(): boolean {
    return this.#state.kind === 'closed';
  }

  /**
   * Ends the connection: releases the lease (once) and destroys both sockets — an orderly close for
   * 'done' and for a client whose upstream was unreachable, a reset (RST) otherwise. Idempotent; the
   * first reason wins. onClosed follows once both file descriptors are released.
   */
  close(reason: CloseReason, error?: Error): void {
    const state = this.#state;
    if (state.kind === 'closed') return;
    const closed: State & { kind: 'closed' } = { kind: 'closed', reason, error, pumpLive: false, spliced: false, handedBack: false };
    this.#state = closed;
    this.#lease.onRevoke = undefined;
    this.#copy.stop();
    switch (state.kind) {
      case 'spliced':
        // The pump owns the descriptors now; its end (after both are closed) finishes the connection.
        this.#countSpliced(state);
        closed.spliced = true;
        closed.pumpLive = true;
        this.#lease.release();
        state.pump.abort(reason === 'idle');
        break;
      case 'connecting':
        state.timer.cancel();
        this.#lease.release();
        if (reason === 'upstream_unreachable' && this.#onUnconnected !== undefined && error !== undefined && !isFdLimit(error)) {
          closed.handedBack = true;
          this.#handBack(this.#onUnconnected, error, state.early);
        } else {
          this.#destroySockets(reason);
        }
        break;
      case 'copying':
        this.#lease.release();
        this.#destroySockets(reason);
        break;
    }
    this.#maybeFinished();
  }

  #destroySockets(reason: CloseReason): void {
    switch (reason) {
      case 'done':
      case 'idle':
        this.#client.destroy();
        this.#upstream.destroy();
        break;
      case 'upstream_unreachable':
        this.#upstream.destroy();
        this.#client.destroy();
        break;
      default:
        resetSocket(this.#client);
        resetSocket(this.#upstream);
    }
  }

  /** Gives the untouched client to the retry callback (a new owner); only the upstream socket is closed here. */
  #handBack(onUnconnected: (u: Unconnected) => void, error: Error, early: EarlyData): void {
    const client = this.#client;
    client.off('error', this.#onClientError);
    client.off('close', this.#onSocketClose);
    this.#liveSockets -= 1;
    this.#upstream.destroy();
    onUnconnected({ client: Handoff.toHeld(client, early), error, upstream: this.#lease.upstream });
  }

  #onUpstreamConnect = (): void => {
    const state = this.#state;
    if (state.kind !== 'connecting') return;
    state.timer.cancel();
    this.#state = { kind: 'copying' };
    this.#copy.start(state.early);
  };

  /** The copy step handed both descriptors to the pump (and destroys its sockets next). */
  #onSpliced = (pump: SplicePump): void => {
    this.#state = { kind: 'spliced', pump, baseIn: this.#lease.bytesIn, baseOut: this.#lease.bytesOut };
  };

  /** The pump closed its descriptors: closed already (aborted), or closed now for the pump's reason. */
  #onSpliceEnd = (end: SpliceEnd): void => {
    const state = this.#state;
    if (state.kind === 'closed') {
      state.pumpLive = false;
      this.#maybeFinished();
    } else if (end.ok) {
      this.close('done');
      this.#pumpEnded();
    } else {
      this.close(end.failed === 'client' ? 'client_reset' : 'upstream_reset', end.error);
      this.#pumpEnded();
    }
  };

  /** After close() from the spliced state for the pump's own end: the pump has let go already. */
  #pumpEnded(): void {
    const state = this.#state;
    if (state.kind !== 'closed') return;
    state.pumpLive = false;
    this.#maybeFinished();
  }

  /** Brings the lease's byte counters up to what the pump has moved. */
  #countSpliced(state: State & { kind: 'spliced' }): void {
    const counts = state.pump.counts();
    this.#lease.bytesIn = state.baseIn + (counts[0] ?? 0);
    this.#lease.bytesOut = state.baseOut + (counts[1] ?? 0);
  }

  /** The pump's counts, at most once a second while bytes move: status and metrics read the lease. */
  #onSpliceCounts = (bytesIn: number, bytesOut: number): void => {
    const state = this.#state;
    if (state.kind !== 'spliced') return;
    this.#lease.bytesIn = state.baseIn + bytesIn;
    this.#lease.bytesOut = state.baseOut + bytesOut;
  };

  #onClientError = (err: Error): void => {
    this.close('client_reset', err);
  };

  #onUpstreamError = (err: Error): void => {
    this.close(this.#state.kind === 'connecting' ? 'upstream_unreachable' : 'upstream_reset', err);
  };

  /**
   * The service stopped underneath (the lease is revoked). Still connecting, the client has sent
   * nothing anywhere: it is handed back to be held for the next start, as for a refused connect.
   */
  #onLeaseAbort = (how: RevokeHow): void => {
    if (this.#state.kind === 'connecting' && this.#onUnconnected !== undefined) this.close('upstream_unreachable', stoppedWhileConnecting());
    else this.close(how === 'idle' ? 'idle' : 'lease_aborted');
  };

  /**
   * A socket destroys itself once it has read EOF and flushed its own FIN (autoDestroy). When both
   * have, every byte went through: the connection is done.
   */
  #onSocketClose = (): void => {
    this.#liveSockets -= 1;
    const kind = this.#state.kind;
    if (this.#liveSockets === 0 && (kind === 'copying' || kind === 'connecting')) {
      // Both closed without an error event: an orderly end in both directions.
      this.close('done');
      return;
    }
    this.#maybeFinished();
  };

  #maybeFinished(): void {
    const state = this.#state;
    if (state.kind !== 'closed' || this.#liveSockets !== 0 || state.pumpLive) return;
    this.#liveSockets = -1; // report once
    this.#copy.releaseBuffers();
    this.#onClosed(this, {
      reason: state.reason,
      error: state.error,
      bytesIn: this.#lease.bytesIn,
      bytesOut: this.#lease.bytesOut,
      durationMs: this.#clock.now() - this.#startedAt,
      handedBack: state.handedBack,
      spliced: state.spliced,
    });
  }
}
