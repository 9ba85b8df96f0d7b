// Small socket helpers shared by the proxy: aborting a socket with RST, and naming
// system errors the way portwake's messages do.

import type { Socket } from 'node:net';
import { getSystemErrorMap } from 'node:util';

/**
 * TCP keepalive on both sides of a connection, so a peer that vanished without a FIN or RST (a
 * crashed host, a dropped NAT entry) does not hold its lease — and keep the container up — forever.
 */
export const KEEPALIVE_INITIAL_DELAY_MS = 60_000;

/**
 * Destroys a socket so that a TCP peer sees a reset (RST) instead of an orderly close. Unix sockets
 * have no reset and a socket still connecting has no peer yet: both are simply destroyed (Node's
 * resetAndDestroy() would throw for the one and keep the other's fd until it connects).
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.connecting) {
    socket.destroy();
    return;
  }
  try {
    socket.resetAndDestroy();
  } catch {
    // ERR_INVALID_HANDLE_TYPE: not a TCP socket.
    socket.destroy();
  }
}


let errnoMessages: Map<number, [string, string]> | undefined;

/**
 * "address already in use (EADDRINUSE)" for a Node system error, the plain message otherwise.
 * Node's own message ("listen EADDRINUSE: address already in use 127.0.0.1:80") repeats what the
 * caller's message already says.
 */
export function systemErrorText(err: unknown): string {
  if (err instanceof Error) {
    const { errno, code } = err as { errno?: unknown; code?: unknown };
    if (typeof errno === 'number' && typeof code === 'string') {
      errnoMessages ??= getSystemErrorMap();
      const text = errnoMessages.get(errno)?.[1];
      if (text !== undefined) return `${text} (${code})`;
    }
    if (typeof code === 'string' && !err.message.includes(code)) return `${err.message} (${code})`;
    return err.message;
  }
  return String(err);
}
