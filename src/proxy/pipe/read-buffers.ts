// Reading sockets into buffers of the proxy's own instead of one fresh 64 KiB Buffer per read: no
// allocation per chunk and far fewer full garbage collections on bulk transfers.
//
// Upstream sockets get it through net.connect's public `onread` option. Accepted client sockets are
// created by net.Server, which has no such option: they are switched with the same mechanism Node
// uses for `onread` (its per-socket user-buffer slots, found by their symbol descriptions, and the
// handle's useUserBuffer()). Where a Node version does not have those, `adoptReadBuffer` says so and
// the connection reads through 'data' events as before.

import net from 'node:net';

export const READ_BUFFER_BYTES = 64 * 1024;
/** Buffers kept for reuse by the next connections; the rest are left to the garbage collector. */
const POOL_MAX = 64;
const pool: Buffer[] = [];

/**
 * A socket's first reads land here, so that a connection that only exchanges a request and a reply
 * and then idles holds no buffer at all (a buffer of its own would cost RSS even unread: malloc
 * touches a page of every chunk). Bytes read here are copied out before they are written (the next
 * socket reuses it at once); a socket that goes on reading gets its own buffer (ReadSide).
 */
export const FIRST_READ = Buffer.allocUnsafe(READ_BUFFER_BYTES);

/** A read buffer, reused from a closed connection when one is free. */
export function takeReadBuffer(): Buffer {
  return pool.pop() ?? Buffer.allocUnsafe(READ_BUFFER_BYTES);
}

/** Returns a buffer no socket reads into or writes from any more (both sockets are closed). */
export function giveReadBuffer(buffer: Buffer): void {
  if (pool.length < POOL_MAX) pool.push(buffer);
}

/** Called with the bytes read; returning false pauses the socket until resume(). */
export type ReadCallback = (bytes: number, buffer: Uint8Array) => boolean;

interface UserBufferSlots { kBuffer: symbol; kBufferCb: symbol; kBufferGen: symbol }

const slots: UserBufferSlots | undefined = findSlots();

function findSlots(): UserBufferSlots | undefined {
  const probe = new net.Socket();
  try {
    const symbols = Object.getOwnPropertySymbols(probe);
    const kBuffer = symbols.find((s) => s.description === 'kBuffer');
    const kBufferCb = symbols.find((s) => s.description === 'kBufferCb');
    const kBufferGen = symbols.find((s) => s.description === 'kBufferGen');
    return kBuffer !== undefined && kBufferCb !== undefined && kBufferGen !== undefined ? { kBuffer, kBufferCb, kBufferGen } : undefined;
  } finally {
    probe.destroy();
  }
}

/** Reads copied out of FIRST_READ before a side gets a buffer of its own. */
const SHARED_READS = 2;

/**
 * One direction's reads: the first SHARED_READS into FIRST_READ, the rest into a pooled buffer of
 * its own. `next` is what Node asks for before each read (onread's buffer function).
 */
export class ReadSide {
  #own: Buffer | undefined;
  #sharedReads = 0;

  /** The buffer for the next read. */
  readonly next = (): Buffer => this.#own ?? FIRST_READ;

  /**
   * The bytes just read, safe to queue in a write: a copy when they are in FIRST_READ (and from now
   * on this side reads into a buffer of its own), a view of the own buffer otherwise.
   */
  take(n: number, buf: Uint8Array): Uint8Array {
    if (buf !== FIRST_READ) return buf.subarray(0, n);
    if (++this.#sharedReads >= SHARED_READS) this.#own = takeReadBuffer();
    return Buffer.from(buf.subarray(0, n));
  }

  /** Both sockets are closed: the own buffer goes back to the pool. */
  release(): void {
    if (this.#own !== undefined) giveReadBuffer(this.#own);
    this.#own = undefined;
  }
}

/**
 * Makes a connected socket read into `side`'s buffers, calling `callback` instead of emitting 'data'
 * (data already queued in the stream is still emitted as 'data', first). 'end', 'error' and 'close'
 * are unchanged. Returns false, changing nothing, where this Node does not support it.
 */
export function adoptReadBuffer(socket: net.Socket, side: ReadSide, callback: ReadCallback): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } | null })._handle;
  if (slots === undefined || typeof handle?.useUserBuffer !== 'function') return false;
  const s = socket as unknown as Record<symbol, unknown>;
  if (s[slots.kBuffer] !== null || s[slots.kBufferCb] !== null || s[slots.kBufferGen] !== null) return false; // already in this mode, or changed semantics
  const first = side.next();
  handle.useUserBuffer(first);
  s[slots.kBuffer] = first;
  s[slots.kBufferCb] = callback;
  s[slots.kBufferGen] = side.next;
  return true;
}
