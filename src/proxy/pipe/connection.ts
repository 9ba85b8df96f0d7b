// One proxied connection: a client socket, the upstream socket it opens, the bytes between them,
// and the lease that keeps the service awake. One owner, one idempotent close() (STYLE.md habit 6).

import net from 'node:net';
import type { Lease, RevokeHow } from '../../core/backend.ts';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import type { Endpoint } from '../../core/provider.ts';
import { formatMs } from '../../core/errors.ts';
import { formatEndpoint } from '../../core/upstream.ts';
import { adoptReadBuffer, READ_BUFFER_BYTES, ReadSide } from './read-buffers.ts';
import { KEEPALIVE_INITIAL_DELAY_MS, resetSocket, systemErrorText } from '../sockets.ts';
import { socketFd, startSplice, type NativePolicy, type SpliceEnd, type SplicePump } from '../native.ts';

export type CloseReason =
  /** Both directions ended (FIN each way) and every byte was delivered. */
  | 'done'
  /** The client socket failed (reset, EPIPE …): the upstream is reset too. */
  | 'client_reset'
  /** The upstream socket failed after connecting: the client is reset too. */
  | 'upstream_reset'
  /** The upstream could not be connected (refused, timed out): the client is closed. */
  | 'upstream_unreachable'
  /** lease.signal aborted (the container went away): both sides are reset. */
  | 'lease_aborted'
  /** The owner closed it (shutdown after the grace period): both sides are reset. */
  | 'shutdown'
  /** The service stopped for want of traffic (idleOn: traffic): closed in order, a FIN each way. */
  | 'idle'
  /** The client half-closed and the upstream sent nothing for halfCloseTimeout: both sides are reset. */
  | 'half_closed_timeout';

export interface ConnectionEnd {
  reason: CloseReason;
  /** The socket error behind client_reset/upstream_reset/upstream_unreachable. */
  error: Error | undefined;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** The client was handed to onUnconnected for another try rather than closed. */
  handedBack: boolean;
  /** The bytes after the first ones moved through the zero-copy pump. */
  spliced: boolean;
}

/**
 * What a held client sent before its upstream existed. Whether it also half-closed is its socket's
 * `readableEnded` (the upstream then gets a FIN after the chunks).
 */
export interface EarlyData {
  chunks: Buffer[];
}

/** What a connection hands back when its upstream could not be connected and it may be retried. */
export interface Unconnected {
  /** The client socket, paused, with no listeners of this connection left on it. */
  client: net.Socket;
  /** Everything the client sent so far (nothing was read from it beyond these). */
  early: EarlyData;
  error: Error;
  /** The upstream that could not be connected. */
  upstream: Endpoint;
}

export interface ConnectionOptions {
  /** Accepted, paused, allowHalfOpen. The connection owns it from now on. */
  client: net.Socket;
  /** Released exactly once, when the connection closes. */
  lease: Lease;
  early?: EarlyData | undefined;
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

type State =
  | { kind: 'connecting'; timer: TimerHandle }
  | { kind: 'open' }
  /** Both sockets were handed to the splice pump; the JS sockets are destroyed. */
  | { kind: 'spliced'; pump: SplicePump; baseIn: number; baseOut: number }
  | { kind: 'closed'; reason: CloseReason; error: Error | undefined };

/**
 * 'watch': a splice policy applies and both sockets read into buffers of ours; 'draining': both
 * stopped reading and the hand-over waits for their queued writes; 'never' / 'done' otherwise.
 */
type Handover = 'never' | 'watch' | 'draining' | 'done';

/**
 * Forwards bytes both ways with backpressure (a reader is paused while the other side's write
 * buffer is full and resumed once it is flushed), propagates half-close (EOF on one side ends the other's
 * write side; the connection ends when both directions have), and turns every failure into close().
 * The constructor starts connecting to lease.upstream at once.
 */
export class Connection {
  readonly #client: net.Socket;
  readonly #upstream: net.Socket;
  readonly #lease: Lease;
  readonly #clock: Clock;
  readonly #onClosed: ConnectionOptions['onClosed'];
  readonly #startedAt: number;
  #state: State;
  /** Sockets that have not emitted 'close' yet (their fd is still open). */
  #liveSockets = 2;
  /** The held client's bytes, written once the upstream is connected (kept until then for a retry). */
  #early: EarlyData;
  readonly #onUnconnected: ConnectionOptions['onUnconnected'];
  readonly #upRead = new ReadSide();
  readonly #clientRead = new ReadSide();
  #handedBack = false;
  readonly #splicePolicy: NativePolicy | undefined;
  #handover: Handover = 'never';
  /** The splice pump still owns descriptors (its end has not been reported). */
  #pumpLive = false;
  /** The client (upstream) stopped reading until its bytes queued on the other socket are out. */
  #clientWaits = false;
  #upstreamWaits = false;
  readonly #halfClose: ConnectionOptions['halfClose'];
  /** The client half-closed and the upstream has not finished: the check and the upstream's bytes at the last one. */
  #halfClosed: { timer: TimerHandle; bytesOut: number } | undefined;


  constructor(options: ConnectionOptions) {
    this.#client = options.client;
    this.#lease = options.lease;
    this.#clock = options.clock;
    this.#onClosed = options.onClosed;
    this.#onUnconnected = options.onUnconnected;
    this.#early = options.early ?? NO_EARLY;
    this.#startedAt = options.clock.now();
    this.#splicePolicy = options.native;
    this.#halfClose = options.halfClose;

    const upstream = options.lease.upstream;
    // Each direction reads into one buffer of this connection's, reused for every read (see
    // read-buffers.ts). Reuse is safe because a side stops reading while a write of its buffer is
    // still queued (#onUpstreamRead, #onClientRead) and resumes once the other side flushed it.
    const onread = { buffer: this.#upRead.next, callback: this.#onUpstreamRead };
    this.#upstream = upstream.kind === 'unix'
      ? net.connect({ path: upstream.path, allowHalfOpen: true, onread })
      : net.connect({
        host: upstream.host,
        port: upstream.port,
        allowHalfOpen: true,
        noDelay: true,
        keepAlive: true,
        keepAliveInitialDelay: KEEPALIVE_INITIAL_DELAY_MS,
        onread,
      });
    this.#state = {
      kind: 'connecting',
      timer: this.#clock.setTimer(options.connectTimeoutMs, () => {
        this.close('upstream_unreachable', new Error(`connect timed out after ${formatMs(options.connectTimeoutMs)}`));
      }),
    };

    const client = this.#client;
    const up = this.#upstream;
    // Handlers are bound once per connection; nothing is allocated per chunk.
    client.on('error', this.#onClientError);
    client.on('close', this.#onSocketClose);
    up.on('error', this.#onUpstreamError);
    up.on('close', this.#onSocketClose);
    up.once('connect', this.#onUpstreamConnect);
    up.on('end', this.#onUpstreamEnd);
    // The client is not read until the upstream is connected: its bytes wait in the kernel, so a
    // refused connect can hand the client back intact for another try.

    if (this.#lease.revoked) this.close('lease_aborted');
    else this.#lease.onRevoke = this.#onLeaseAbort;
  }

  /** Connected: the held bytes go first, in order, then the client is read. */
  #startForwarding(): void {
    const client = this.#client;
    const up = this.#upstream;
    for (const chunk of this.#early.chunks) {
      this.#lease.bytesIn += chunk.length;
      up.write(chunk, this.#onUpstreamFlushed);
    }
    this.#early = NO_EARLY;
    // Whenever the client's EOF came — while held, or after the hand-over and before now (a paused
    // socket with nothing buffered still emits 'end', to nobody then) — the socket says so.
    if (client.readableEnded) {
      up.end();
      this.#watchHalfClosed();
      return;
    }
    // Bytes the client stream already queued still come as 'data', before any read into the buffer.
    client.on('data', this.#onClientData);
    client.on('end', this.#onClientEnd);
    if (adoptReadBuffer(client, this.#clientRead, this.#onClientRead) && this.#splicePolicy !== undefined) this.#handover = 'watch';
    // Otherwise #onUpstreamFlushed resumes the client once the early bytes are out.
    if (up.writableLength === 0) client.resume();
    else this.#clientWaits = true;
  }

  /**
   * For the half-close sweep (half-close.ts): once handed to the splice pump, the half-close
   * happens in native code; before that, this connection's own timer watches it (false here).
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
    if (state.kind === 'connecting') state.timer.cancel();
    this.#state = { kind: 'closed', reason, error };
    this.#lease.onRevoke = undefined;
    this.#unwatchHalfClosed();
    if (state.kind === 'spliced') {
      // The pump owns the sockets now; its end (after both are closed) finishes the connection.
      this.#countSpliced(state);
      this.#lease.release();
      state.pump.abort(reason === 'idle');
      this.#maybeFinished();
      return;
    }
    this.#lease.release();
    if (reason === 'upstream_unreachable' && state.kind === 'connecting' && this.#onUnconnected !== undefined && error !== undefined && !isFdLimit(error)) {
      this.#handBack(this.#onUnconnected, error);
      return;
    }

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
    this.#maybeFinished();
  }

  /** Gives the untouched client to the retry callback; only the upstream socket is closed here. */
  #handBack(onUnconnected: (u: Unconnected) => void, error: Error): void {
    const client = this.#client;
    client.off('error', this.#onClientError);
    client.off('close', this.#onSocketClose);
    this.#liveSockets -= 1;
    this.#handedBack = true;
    this.#upstream.destroy();
    const early = this.#early;
    this.#early = NO_EARLY;
    onUnconnected({ client, early, error, upstream: this.#lease.upstream });
    this.#maybeFinished();
  }

  /** As #onUpstreamRead, the other way. */
  #onClientRead = (n: number, buf: Uint8Array): boolean => {
    this.#lease.bytesIn += n;
    this.#upstream.write(this.#clientRead.take(n, buf), this.#onUpstreamFlushed);
    if (this.#upstream.writableLength > 0) {
      this.#clientWaits = true;
      return false;
    }
    return n === READ_BUFFER_BYTES && this.#handover === 'watch' ? this.#considerSplice() : true;
  };

  #onClientData = (chunk: Buffer): void => {
    this.#lease.bytesIn += chunk.length;
    this.#upstream.write(chunk, this.#onUpstreamFlushed);
    if (this.#upstream.writableLength > 0) {
      this.#clientWaits = true;
      this.#client.pause();
    }
  };

  /**
   * Returns false (pausing the upstream) while the write is still queued: the queued bytes are this
   * connection's read buffer, which must not be read into again until #onClientFlushed says they
   * are out. (A write callback rather than 'drain': Node emits 'drain' only after a write that
   * crossed the high-water mark, and a small chunk queued behind a full socket buffer does not.)
   */
  #onUpstreamRead = (n: number, buf: Uint8Array): boolean => {
    this.#lease.bytesOut += n;
    this.#client.write(this.#upRead.take(n, buf), this.#onClientFlushed);
    if (this.#client.writableLength > 0) {
      this.#upstreamWaits = true;
      return false;
    }
    return n === READ_BUFFER_BYTES && this.#handover === 'watch' ? this.#considerSplice() : true;
  };

  /**
   * A write to the upstream completed: once nothing is queued, the waiting client is read again
   * (or, while a hand-over drains, the hand-over tries again).
   */
  #onUpstreamFlushed = (): void => {
    if (this.#state.kind !== 'open' || this.#upstream.writableLength > 0) return;
    if (this.#handover === 'draining') {
      this.#tryHandover();
    } else if (this.#clientWaits) {
      this.#clientWaits = false;
      this.#client.resume();
    }
  };

  #onClientFlushed = (): void => {
    if (this.#state.kind !== 'open' || this.#client.writableLength > 0) return;
    if (this.#handover === 'draining') {
      this.#tryHandover();
    } else if (this.#upstreamWaits) {
      this.#upstreamWaits = false;
      this.#upstream.resume();
    }
  };

  /** Client half-closed: pass the FIN on after the queued bytes; the reply keeps flowing back. */
  #onClientEnd = (): void => {
    if (this.#state.kind !== 'open') return;
    this.#upstream.end();
    this.#watchHalfClosed();
  };

  #onUpstreamEnd = (): void => {
    this.#unwatchHalfClosed();
    if (this.#state.kind === 'open') this.#client.end();
  };

  // ---- a half-closed client waiting for its upstream ----

  #watchHalfClosed(): void {
    const halfClose = this.#halfClose;
    if (halfClose === undefined || this.#halfClosed !== undefined || this.#upstream.readableEnded) return;
    halfClose.count(+1);
    this.#halfClosed = { timer: this.#clock.setTimer(halfClose.timeoutMs, this.#checkHalfClosed), bytesOut: this.#lease.bytesOut };
  }

  /** Nothing per byte: the check compares the upstream's byte count with the last check's. */
  #checkHalfClosed = (): void => {
    const watch = this.#halfClosed;
    if (watch === undefined || this.#halfClose === undefined) return;
    // Upstream bytes a slow client has not taken yet: the upstream did answer.
    const pending = this.#client.writableLength > 0 || this.#upstreamWaits;
    if (this.#lease.bytesOut === watch.bytesOut && !pending) {
      this.close('half_closed_timeout');
      return;
    }
    watch.bytesOut = this.#lease.bytesOut;
    watch.timer = this.#clock.setTimer(this.#halfClose.timeoutMs, this.#checkHalfClosed);
  };

  #unwatchHalfClosed(): void {
    const watch = this.#halfClosed;
    if (watch === undefined) return;
    this.#halfClosed = undefined;
    watch.timer.cancel();
    this.#halfClose?.count(-1);
  }

  // ---- the hand-over to the splice pump ----

  /**
   * A read filled its buffer: a bulk stream. Past the policy's bytes, both sides stop reading and
   * the hand-over waits (in a microtask, outside Node's read callback) for queued writes to flush.
   * Returns what the read callback returns: false stops this side.
   */
  #considerSplice(): boolean {
    const policy = this.#splicePolicy;
    if (policy === undefined || this.#lease.bytesIn + this.#lease.bytesOut < policy.spliceAfterBytes) return true;
    // From now on either side's flushed write tries the hand-over again.
    this.#handover = 'draining';
    this.#client.pause();
    this.#upstream.pause();
    queueMicrotask(this.#tryHandover);
    return false;
  }

  #tryHandover = (): void => {
    if (this.#state.kind !== 'open' || this.#handover !== 'draining') return;
    const client = this.#client;
    const up = this.#upstream;
    if (client.writableLength > 0 || up.writableLength > 0) return; // its flush calls again
    const clientFd = socketFd(client);
    const upstreamFd = socketFd(up);
    // Half-closed, or bytes already inside a stream: the JS path finishes the job.
    if (client.readableEnded || up.readableEnded || client.readableLength > 0 || up.readableLength > 0 || clientFd === undefined || upstreamFd === undefined) {
      this.#abandonHandover();
      return;
    }
    let pump: SplicePump;
    try {
      pump = startSplice(clientFd, upstreamFd, this.#onSpliceEnd, this.#onSpliceCounts);
    } catch {
      // No descriptors left for its pipes, say: nothing changed, go on in JavaScript.
      this.#abandonHandover();
      return;
    }
    this.#state = { kind: 'spliced', pump, baseIn: this.#lease.bytesIn, baseOut: this.#lease.bytesOut };
    this.#handover = 'done';
    this.#pumpLive = true;
    // The pump works on duplicates of the descriptors: ours are closed; their 'close' events only
    // count down #liveSockets.
    for (const socket of [client, up]) {
      socket.removeAllListeners('data');
      socket.removeAllListeners('end');
      socket.removeAllListeners('error');
      socket.on('error', ignore);
      socket.destroy();
    }
  };

  #abandonHandover(): void {
    this.#handover = 'never';
    this.#clientWaits = false;
    this.#upstreamWaits = false;
    this.#client.resume();
    this.#upstream.resume();
  }

  /** The pump closed its descriptors: closed already (aborted), or closed now for the pump's reason. */
  #onSpliceEnd = (end: SpliceEnd): void => {
    this.#pumpLive = false;
    if (this.#state.kind !== 'spliced') this.#maybeFinished();
    else if (end.ok) this.close('done');
    else this.close(end.failed === 'client' ? 'client_reset' : 'upstream_reset', end.error);
  };

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

  #onUpstreamConnect = (): void => {
    const state = this.#state;
    if (state.kind !== 'connecting') return;
    state.timer.cancel();
    this.#state = { kind: 'open' };
    this.#startForwarding();
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
    if (this.#liveSockets === 0 && (this.#state.kind === 'open' || this.#state.kind === 'connecting')) {
      // Both closed without an error event: an orderly end in both directions.
      this.close('done');
      return;
    }
    this.#maybeFinished();
  };

  #maybeFinished(): void {
    const state = this.#state;
    if (state.kind !== 'closed' || this.#liveSockets !== 0 || this.#pumpLive) return;
    this.#liveSockets = -1; // report once
    // Both sockets are closed: nothing reads into or writes from the buffers any more.
    this.#upRead.release();
    this.#clientRead.release();
    this.#onClosed(this, {
      reason: state.reason,
      error: state.error,
      bytesIn: this.#lease.bytesIn,
      bytesOut: this.#lease.bytesOut,
      durationMs: this.#clock.now() - this.#startedAt,
      handedBack: this.#handedBack,
      spliced: this.#handover === 'done',
    });
  }
}

/** No early bytes: shared by every connection that had none. */
export const NO_EARLY: EarlyData = { chunks: [] };

/** Why a connection was handed back when its lease was revoked before its upstream connected. */
export const stoppedWhileConnecting = (): Error => new Error('the service stopped while connecting');

const ignore = (): void => undefined;

/** Out of file descriptors: a limit of this process, not a sign that the upstream went away. */
export function isFdLimit(err: Error | undefined): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}

/** One line for a log: "upstream 10.0.0.2:80 unreachable: connection refused (ECONNREFUSED)". */
export function describeEnd(connection: { readonly upstream: string }, end: ConnectionEnd): string {
  const why = end.error === undefined ? '' : `: ${systemErrorText(end.error)}`;
  switch (end.reason) {
    case 'upstream_unreachable':
      return `cannot connect to upstream ${connection.upstream}${why}`;
    case 'upstream_reset':
      return `upstream ${connection.upstream} failed${why}`;
    case 'client_reset':
      return `client failed${why}`;
    case 'lease_aborted':
      return `upstream ${connection.upstream} went away`;
    case 'shutdown':
      return 'closed for shutdown';
    case 'idle':
      return 'closed in order: the service stopped for want of traffic';
    case 'half_closed_timeout':
      return `the client half-closed and upstream ${connection.upstream} sent nothing since`;
    case 'done':
      return 'done';
  }
}
