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

interface UserBufferSlots { kBuffer: symbol; kBufferCb: symbol }

const slots: UserBufferSlots | undefined = findSlots();

function findSlots(): UserBufferSlots | undefined {
  const probe = new net.Socket();
  try {
    const symbols = Object.getOwnPropertySymbols(probe);
    const kBuffer = symbols.find((s) => s.description === 'kBuffer');
    const kBufferCb = symbols.find((s) => s.description === 'kBufferCb');
    return kBuffer !== undefined && kBufferCb !== undefined ? { kBuffer, kBufferCb } : undefined;
  } finally {
    probe.destroy();
  }
}

/**
 * Makes a connected socket read into `buffer`, calling `callback` instead of emitting 'data' (data
 * already queued in the stream is still emitted as 'data', first). 'end', 'error' and 'close' are
 * unchanged. Returns false, changing nothing, where this Node does not support it.
 */
export function adoptReadBuffer(socket: net.Socket, buffer: Buffer, callback: ReadCallback): boolean {
  const handle = (socket as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void } | null })._handle;
  if (slots === undefined || typeof handle?.useUserBuffer !== 'function') return false;
  const s = socket as unknown as Record<symbol, unknown>;
  if (s[slots.kBuffer] !== null || s[slots.kBufferCb] !== null) return false; // already in this mode, or changed semantics
  handle.useUserBuffer(buffer);
  s[slots.kBuffer] = buffer;
  s[slots.kBufferCb] = callback;
  return true;
}
