// The upstream connect step of a JavaScript connection (connection.ts owns the socket it opens and
// the connect deadline): the socket options, and what a failed connect means.

import net from 'node:net';
import type { Endpoint } from '../../core/provider.ts';
import { KEEPALIVE_INITIAL_DELAY_MS } from '../sockets.ts';

/**
 * Starts connecting to `upstream`, half-open allowed; a TCP upstream gets Nagle off and keepalive,
 * as the native path's. `onread`: the buffer every read lands in and its callback (read-buffers.ts).
 */
export function openUpstream(upstream: Endpoint, onread: net.OnReadOpts): net.Socket {
  return upstream.kind === 'unix'
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
}

/** Why a connection was handed back when its lease was revoked before its upstream connected. */
export const stoppedWhileConnecting = (): Error => new Error('the service stopped while connecting');

/** Out of file descriptors: a limit of this process, not a sign that the upstream went away. */
export function isFdLimit(err: Error | undefined): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EMFILE' || code === 'ENFILE';
}
