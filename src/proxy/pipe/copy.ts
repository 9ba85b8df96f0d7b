// The copy step of a JavaScript connection (connection.ts owns it, and both sockets): bytes both
// ways with backpressure, half-close passed on and bounded, and — for a bulk stream — the moment the
// sockets are handed to the splice pump. It owns no socket and closes none: a failure or a
// timeout goes to its owner, who closes.

import type net from 'node:net';
import type { Lease } from '../../core/backend.ts';
import type { Clock, TimerHandle } from '../../core/clock.ts';
import type { EarlyData } from '../handoff.ts';
import { adoptReadBuffer, READ_BUFFER_BYTES, ReadSide } from './read-buffers.ts';
import { socketFd, startSplice, type NativePolicy, type SpliceEnd, type SplicePump } from '../native.ts';

/** What the copy step needs from the connection that owns it. */
export interface CopyOwner {
  readonly client: net.Socket;
  readonly lease: Lease;
  readonly clock: Clock;
  /** When given (and the addon is available), a bulk stream goes to the splice pump once past spliceAfterBytes. */
  readonly native: NativePolicy | undefined;
  /** The half-close bound (see ConnectionOptions.halfClose). */
  readonly halfClose: { timeoutMs: number; count: (delta: number) => void } | undefined;
  /** The client half-closed and the upstream sent nothing for halfClose.timeoutMs. */
  halfClosedTimeout(): void;
  /** The pump has duplicates of both descriptors; the copy's sockets are destroyed right after. */
  spliced(pump: SplicePump): void;
  /** The pump's end and counts (startSplice's callbacks). */
  spliceEnded(end: SpliceEnd): void;
  spliceCounts(bytesIn: number, bytesOut: number): void;
}

/**
 * 'waiting': the upstream is not connected yet; 'copying': bytes move, no splice; 'watching': a
 * splice policy applies and both sockets read into buffers of ours; 'draining': both stopped reading
 * and the hand-over to the pump waits for their queued writes; 'stopped': closed, or handed to the pump.
 */
type CopyState = 'waiting' | 'copying' | 'watching' | 'draining' | 'stopped';

/**
 * Forwards bytes both ways with backpressure (a reader is paused while the other side's write
 * buffer is full and resumed once it is flushed) and propagates half-close (EOF on one side ends the
 * other's write side). Each direction reads into one buffer of this copy's, reused for every read
 * (read-buffers.ts): a side stops reading while a write of its buffer is still queued and resumes
 * once the other side flushed it.
 */
export class Copy {
  readonly #owner: CopyOwner;
  readonly #client: net.Socket;
  readonly #lease: Lease;
  readonly #upstream: net.Socket;
  #state: CopyState = 'waiting';
  readonly #upRead = new ReadSide();
  readonly #clientRead = new ReadSide();
  /** The client (upstream) stopped reading until its bytes queued on the other socket are out. */
  #clientWaits = false;
  #upstreamWaits = false;
  /**
   * The client half-closed and the upstream has not finished: the check, the upstream's bytes at the
   * last one, and whether this copy resumed reading the upstream since (it had stopped for a slow client).
   */
  #halfClosed: { timer: TimerHandle; bytesOut: number; resumed: boolean } | undefined;

  /** `connect` opens the upstream socket with the given read buffer and callback (upstream-connect.ts). */
  constructor(owner: CopyOwner, connect: (onread: net.OnReadOpts) => net.Socket) {
    this.#owner = owner;
    this.#client = owner.client;
    this.#lease = owner.lease;
    this.#upstream = connect({ buffer: this.#upRead.next, callback: this.#onUpstreamRead });
    this.#upstream.on('end', this.#onUpstreamEnd);
  }

  get upstream(): net.Socket {
    return this.#upstream;
  }

  /** Upstream bytes read but not delivered to the client yet (the half-close check counts them as an answer). */
  get pendingToClient(): boolean {
    return this.#client.writableLength > 0 || this.#upstreamWaits;
  }

  /** Connected: the held bytes go first, in order, then the client is read. */
  start(early: EarlyData): void {
    const client = this.#client;
    const up = this.#upstream;
    this.#state = 'copying';
    for (const chunk of early.chunks) {
      this.#lease.bytesIn += chunk.length;
      up.write(chunk, this.#onUpstreamFlushed);
    }
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
    if (adoptReadBuffer(client, this.#clientRead, this.#onClientRead) && this.#owner.native !== undefined) this.#state = 'watching';
    // Otherwise #onUpstreamFlushed resumes the client once the early bytes are out.
    if (up.writableLength === 0) client.resume();
    else this.#clientWaits = true;
  }

  /** The owner closed the connection: nothing more is resumed, passed on or watched. */
  stop(): void {
    this.#state = 'stopped';
    this.#unwatchHalfClosed();
  }

  /** Both sockets are closed: nothing reads into or writes from the buffers any more. */
  releaseBuffers(): void {
    this.#upRead.release();
    this.#clientRead.release();
  }

  get #moving(): boolean {
    return this.#state === 'copying' || this.#state === 'watching' || this.#state === 'draining';
  }

  /** As #onUpstreamRead, the other way. */
  #onClientRead = (n: number, buf: Uint8Array): boolean => {
    this.#lease.bytesIn += n;
    this.#upstream.write(this.#clientRead.take(n, buf), this.#onUpstreamFlushed);
    if (this.#upstream.writableLength > 0) {
      this.#clientWaits = true;
      return false;
    }
    return n === READ_BUFFER_BYTES && this.#state === 'watching' ? this.#considerSplice() : true;
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
   * copy's read buffer, which must not be read into again until #onClientFlushed says they are out.
   * (A write callback rather than 'drain': Node emits 'drain' only after a write that crossed the
   * high-water mark, and a small chunk queued behind a full socket buffer does not.)
   */
  #onUpstreamRead = (n: number, buf: Uint8Array): boolean => {
    this.#lease.bytesOut += n;
    this.#client.write(this.#upRead.take(n, buf), this.#onClientFlushed);
    if (this.#client.writableLength > 0) {
      this.#upstreamWaits = true;
      return false;
    }
    return n === READ_BUFFER_BYTES && this.#state === 'watching' ? this.#considerSplice() : true;
  };

  /**
   * A write to the upstream completed: once nothing is queued, the waiting client is read again
   * (or, while a hand-over drains, the hand-over tries again).
   */
  #onUpstreamFlushed = (): void => {
    if (!this.#moving || this.#upstream.writableLength > 0) return;
    if (this.#state === 'draining') {
      this.#tryHandover();
    } else if (this.#clientWaits) {
      this.#clientWaits = false;
      this.#client.resume();
    }
  };

  #onClientFlushed = (): void => {
    if (!this.#moving || this.#client.writableLength > 0) return;
    if (this.#state === 'draining') {
      this.#tryHandover();
    } else if (this.#upstreamWaits) {
      this.#upstreamWaits = false;
      this.#resumeUpstream();
    }
  };

  /**
   * Reads the upstream again after this copy stopped reading it. The half-close check is told: the
   * upstream's next bytes may already wait in the kernel, but are read only on the loop's next poll,
   * after a check that falls due now — which must not take the pause for the upstream's silence.
   */
  #resumeUpstream(): void {
    if (this.#halfClosed !== undefined) this.#halfClosed.resumed = true;
    this.#upstream.resume();
  }

  /** Client half-closed: pass the FIN on after the queued bytes; the reply keeps flowing back. */
  #onClientEnd = (): void => {
    if (!this.#moving) return;
    this.#upstream.end();
    this.#watchHalfClosed();
  };

  #onUpstreamEnd = (): void => {
    this.#unwatchHalfClosed();
    if (this.#moving) this.#client.end();
  };

  // ---- a half-closed client waiting for its upstream ----

  #watchHalfClosed(): void {
    const halfClose = this.#owner.halfClose;
    if (halfClose === undefined || this.#halfClosed !== undefined || this.#upstream.readableEnded) return;
    halfClose.count(+1);
    this.#halfClosed = { timer: this.#owner.clock.setTimer(halfClose.timeoutMs, this.#checkHalfClosed), bytesOut: this.#lease.bytesOut, resumed: false };
  }

  /**
   * Nothing per byte: the check compares the upstream's byte count with the last check's. The
   * upstream is not silent while this copy waits for a slow client to take what the upstream sent
   * (pendingToClient), nor when it resumed reading the upstream since the last check (#resumeUpstream).
   */
  #checkHalfClosed = (): void => {
    const watch = this.#halfClosed;
    const halfClose = this.#owner.halfClose;
    if (watch === undefined || halfClose === undefined) return;
    if (this.#lease.bytesOut === watch.bytesOut && !watch.resumed && !this.pendingToClient) {
      this.#owner.halfClosedTimeout();
      return;
    }
    watch.bytesOut = this.#lease.bytesOut;
    watch.resumed = false;
    watch.timer = this.#owner.clock.setTimer(halfClose.timeoutMs, this.#checkHalfClosed);
  };

  #unwatchHalfClosed(): void {
    const watch = this.#halfClosed;
    if (watch === undefined) return;
    this.#halfClosed = undefined;
    watch.timer.cancel();
    this.#owner.halfClose?.count(-1);
  }

  // ---- the hand-over to the splice pump ----

  /**
   * A read filled its buffer: a bulk stream. Past the policy's bytes, both sides stop reading and
   * the hand-over waits (in a microtask, outside Node's read callback) for queued writes to flush.
   * Returns what the read callback returns: false stops this side.
   */
  #considerSplice(): boolean {
    const policy = this.#owner.native;
    if (policy === undefined || this.#lease.bytesIn + this.#lease.bytesOut < policy.spliceAfterBytes) return true;
    // From now on either side's flushed write tries the hand-over again.
    this.#state = 'draining';
    this.#client.pause();
    this.#upstream.pause();
    queueMicrotask(this.#tryHandover);
    return false;
  }

  #tryHandover = (): void => {
    if (this.#state !== 'draining') return;
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
    const owner = this.#owner;
    let pump: SplicePump;
    try {
      pump = startSplice(clientFd, upstreamFd, (end) => owner.spliceEnded(end), (bytesIn, bytesOut) => owner.spliceCounts(bytesIn, bytesOut));
    } catch {
      // No descriptors left for its pipes, say: nothing changed, go on in JavaScript.
      this.#abandonHandover();
      return;
    }
    this.#state = 'stopped';
    owner.spliced(pump);
    // The pump works on duplicates of the descriptors: ours are closed; their 'close' events only
    // tell the owner that the descriptors are gone.
    for (const socket of [client, up]) {
      socket.removeAllListeners('data');
      socket.removeAllListeners('end');
      socket.removeAllListeners('error');
      socket.on('error', ignore);
      socket.destroy();
    }
  };

  #abandonHandover(): void {
    this.#state = 'copying';
    this.#clientWaits = false;
    this.#upstreamWaits = false;
    this.#client.resume();
    this.#resumeUpstream();
  }
}

const ignore = (): void => undefined;
