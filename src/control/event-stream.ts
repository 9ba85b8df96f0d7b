// `GET /events`: one server-sent-events stream per client, fed by DaemonControl.subscribe. The stream
// owns its subscription and heartbeat timer; close() is idempotent and every exit path ends there.

import type { ServerResponse } from 'node:http';
import type { Clock } from '../core/clock.ts';
import type { DaemonEvent } from '../core/status.ts';
import { toJson } from './respond.ts';

export interface EventStreamOptions {
  subscribe(fn: (event: DaemonEvent) => void): () => void;
  clock: Clock;
  /** A comment line every this many ms keeps proxies and idle timeouts from cutting the stream. */
  heartbeatMs: number;
  /** A client that lets this many bytes pile up unread is disconnected rather than buffered forever. */
  maxBufferedBytes: number;
  /** Called once when the stream ends, whoever ended it. */
  onClose(reason: 'client' | 'server' | 'slow'): void;
}

export interface EventStream {
  /** Ends the stream from the server side (shutdown). Idempotent. */
  close(): void;
}

/** Answers the request with an SSE stream; the caller has already authorized it. */
export function openEventStream(res: ServerResponse, options: EventStreamOptions): EventStream {
  let closed = false;
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no', // nginx in front: do not buffer the stream
    connection: 'keep-alive',
  });
  res.socket?.setNoDelay(true);
  // retry: how long EventSource waits before reconnecting after the daemon restarts.
  res.write('retry: 2000\n: connected\n\n');

  const write = (chunk: string): void => {
    if (closed) return;
    res.write(chunk);
    if (res.writableLength > options.maxBufferedBytes) close('slow');
  };
  const unsubscribe = options.subscribe((event) => {
    write(`event: ${event.type}\ndata: ${toJson(event)}\n\n`);
  });
  // One timer re-armed after each beat (never setInterval), on the injected clock.
  let heartbeat = options.clock.setTimer(options.heartbeatMs, beat);
  function beat(): void {
    write(': heartbeat\n\n');
    if (!closed) heartbeat = options.clock.setTimer(options.heartbeatMs, beat);
  }

  function close(reason: 'client' | 'server' | 'slow'): void {
    if (closed) return;
    closed = true;
    heartbeat.cancel();
    unsubscribe();
    if (reason === 'slow') res.destroy();
    else res.end();
    options.onClose(reason);
  }

  // Not req 'close': since Node 16 it fires once a bodiless GET is read, not on disconnect.
  res.on('close', () => close('client'));
  res.on('error', () => close('client'));
  return { close: () => close('server') };
}
