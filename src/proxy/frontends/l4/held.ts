// A client connection held while its service starts: the owner of its socket from Handoff<'held'>
// until handOver() (a Handoff<'connection'>) or close(). It keeps the client's first bytes in a
// bounded buffer and notices the client going away.

import type { Socket } from 'node:net';
import { AbortedError } from '../../../core/errors.ts';
import { Handoff } from '../../handoff.ts';

export const DEFAULT_HOLD_BUFFER_BYTES = 64 * 1024;
const EMPTY = Buffer.alloc(0);

/**
 * The early bytes all of a service's held connections keep in memory together. Past `limit`, every
 * held connection stops reading (the rest waits in the kernel, flow control holds the client back)
 * until it is forwarded, which delivers those bytes too: nothing is lost, nothing more is buffered.
 * One read (up to 64 KiB) may land past the limit, never more.
 */
export class HoldBudget {
  used = 0;
  /** Held connections that read (and would pause once the budget is spent). */
  readonly readers = new Set<HeldConnection>();
  /** Changed in place by a reload; held connections paused by it resume as bytes are given back. */
  constructor(public limit: number) {}

  get spent(): boolean {
    return this.used >= this.limit;
  }
}

type State =
  | { kind: 'holding'; chunks: Buffer[]; bytes: number }
  | { kind: 'handed_over' }
  | { kind: 'closed' };

/**
 * Owns an accepted socket until handOver() or close(). Reads until `limit` bytes are buffered, then
 * pauses, so TCP flow control holds the rest in the client's send buffer. A client EOF is kept (it
 * reaches the upstream after the bytes); a client error or close is "gone": the acquire is aborted
 * through `signal` and onGone runs once. (A client that resets while reading is paused is only
 * noticed once the connection is forwarded: a paused socket is not polled.)
 */
export class HeldConnection {
  readonly #socket: Socket;
  readonly #limit: number;
  readonly #controller = new AbortController();
  readonly #onGone: (held: HeldConnection) => void;
  readonly #budget: HoldBudget;
  #state: State;

  /**
   * `client`: the socket, with what it already sent when it was handed back for another try;
   * `limit`: early bytes kept for this connection; `budget`: shared by the service's held connections.
   */
  constructor(client: Handoff<'held'>, limit: number, onGone: (held: HeldConnection) => void, budget: HoldBudget = new HoldBudget(limit)) {
    const { socket, early } = client.take();
    this.#socket = socket;
    this.#limit = limit;
    this.#onGone = onGone;
    this.#budget = budget;
    const bytes = early.chunks.reduce((n, c) => n + c.length, 0);
    this.#state = { kind: 'holding', chunks: [...early.chunks], bytes };
    budget.used += bytes;
    if (socket.readableEnded) {
      // Handed back after its EOF: nothing more will be read; still watch for the client going away.
      socket.on('error', this.#onError);
      socket.on('close', this.#onClose);
      return;
    }
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', this.#onError);
    socket.on('close', this.#onClose);
    budget.readers.add(this);
    if (this.bufferedBytes < limit && !budget.spent) socket.resume();
  }

  /** Aborted when the client went away or close() was called: pass it to Backend.acquire(). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Whether the socket is still held (not handed over, not closed). */
  get holding(): boolean {
    return this.#state.kind === 'holding';
  }

  /** Buffered early bytes, for status and tests. */
  get bufferedBytes(): number {
    return this.#state.kind === 'holding' ? this.#state.bytes : 0;
  }

  /**
   * Gives up ownership to a Connection: the socket (paused, listeners removed) and what it sent so
   * far. Bytes the socket read past the buffer stay in its readable queue, in order, for the next owner.
   */
  handOver(): Handoff<'connection'> {
    const state = this.#state;
    if (state.kind !== 'holding') throw new Error(`held connection already ${state.kind}`);
    this.#state = { kind: 'handed_over' };
    this.#giveBack(state.bytes);
    const socket = this.#socket;
    socket.pause();
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', this.#onError);
    socket.off('close', this.#onClose);
    return Handoff.toConnection(socket, { chunks: state.chunks });
  }

  /**
   * Destroys the held socket and aborts the acquire. Idempotent. With `reset` (the start failed)
   * a TCP client always sees a reset, never a clean close: whether the kernel sends one otherwise
   * depends on whether its request bytes were read yet, so an empty reply and a reset came in turn.
   */
  close(why: string, reset = false): void {
    const state = this.#state;
    if (state.kind !== 'holding') return;
    this.#state = { kind: 'closed' };
    this.#giveBack(state.bytes);
    if (reset) resetOrDestroy(this.#socket);
    else this.#socket.destroy();
    this.#controller.abort(new AbortedError(`waiting for the service (${why})`));
    this.#onGone(this);
  }

  #onData = (chunk: Buffer): void => {
    const state = this.#state;
    if (state.kind !== 'holding') return;
    state.chunks.push(chunk);
    state.bytes += chunk.length;
    const budget = this.#budget;
    budget.used += chunk.length;
    if (state.bytes >= this.#limit) this.#socket.pause();
    if (budget.spent) {
      // Once, when the budget runs out: every held connection stops reading.
      for (const held of budget.readers) held.#socket.pause();
      budget.readers.clear();
    }
  };

  #giveBack(bytes: number): void {
    this.#budget.used -= bytes;
    this.#budget.readers.delete(this);
  }

  #onEnd = (): void => {
    if (this.#state.kind !== 'holding') return;
    // The socket keeps the EOF (readableEnded) for the next owner. EOF is a half-close or a full
    // close: only a write can tell, and the held client must keep its bytes to itself until
    // forwarded. An empty write fails (→ 'error' → gone) when the client has reset, which Linux
    // reports as a plain EOF if the reset came before the first read.
    this.#socket.write(EMPTY);
  };

  #onError = (): void => {
    this.close('client failed');
  };

  #onClose = (): void => {
    this.close('client went away');
  };
}

/** A reset for a TCP socket (SO_LINGER 0); other sockets (Unix) have none and are just closed. */
function resetOrDestroy(socket: Socket): void {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy(); // ERR_INVALID_HANDLE_TYPE: not TCP
  }
}
