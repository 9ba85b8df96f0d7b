// The TLS SNI router: shared listeners (`tls: {listen}`) whose connections are routed by the
// server name in the client's ClientHello to a service, without terminating TLS. The router owns a
// connection only while it reads the ClientHello; then it hands the socket, paused, with every
// byte read so far, to the service's frontend, which holds and forwards it like its own.

import type { Socket } from 'node:net';
import { systemClock, type Clock, type TimerHandle } from '../../../core/clock.ts';
import type { Logger } from '../../../core/logger.ts';
import { listen, type BoundListener, type ListenTarget } from '../../accept/listen.ts';
import { LogLimit } from '../../log-limit.ts';
import { systemErrorText } from '../../sockets.ts';
import type { EarlyData } from '../../handoff.ts';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from './client-hello.ts';

/** How long a client may take to send its ClientHello. */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** Connections reading their ClientHello at once; more are closed at accept. */
export const DEFAULT_MAX_READING = 1024;
/** Bytes read before giving up: the ClientHello plus the record headers of a very fragmented one. */
const MAX_READ_BYTES = 2 * MAX_CLIENT_HELLO_BYTES;
const LOG_INTERVAL_MS = 10_000;

/** Where a routed connection goes: a service's frontend takes the socket and the bytes read. */
export interface TlsTarget {
  readonly name: string;
  admit(socket: Socket, early: EarlyData): void;
}

export interface TlsRouterOptions {
  listen: readonly ListenTarget[];
  /**
   * The service for a server name (undefined: the ClientHello had none); undefined: nobody, the
   * connection is closed. Asked per connection, so a reload's new table applies at once.
   */
  route: (serverName: string | undefined) => TlsTarget | undefined;
  logger: Logger;
  clock?: Clock;
  helloTimeoutMs?: number;
  maxReading?: number;
}

interface Reading {
  socket: Socket;
  chunks: Buffer[];
  bytes: number;
  timer: TimerHandle;
  onData: (chunk: Buffer) => void;
  onEnd: () => void;
  onError: (err: Error) => void;
  onClose: () => void;
}

/** Owns the TLS listeners and the connections reading their ClientHello. */
export class TlsRouter {
  readonly #o: TlsRouterOptions;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #listeners: BoundListener[] = [];
  readonly #reading = new Set<Reading>();
  readonly #overLimit: LogLimit;
  readonly #acceptErrors: LogLimit;
  #closed = false;

  constructor(o: TlsRouterOptions) {
    this.#o = o;
    this.#clock = o.clock ?? systemClock;
    this.#logger = o.logger;
    this.#overLimit = new LogLimit(this.#clock, LOG_INTERVAL_MS);
    this.#acceptErrors = new LogLimit(this.#clock, LOG_INTERVAL_MS);
  }

  get listeners(): string[] {
    return this.#listeners.map((l) => l.text);
  }

  get addresses(): BoundListener['address'][] {
    return this.#listeners.map((l) => l.address);
  }

  /** Connections still reading their ClientHello. */
  get reading(): number {
    return this.#reading.size;
  }

  /** Binds every listener; on a failure closes those bound and throws PortwakeError('LISTEN_FAILED'). */
  async listen(): Promise<void> {
    try {
      for (const target of this.#o.listen) {
        this.#listeners.push(await listen(target, {
          service: 'tls',
          onConnection: this.#onAccept,
          onError: (err) => this.#onAcceptError(target.text, err),
        }));
      }
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** Stops accepting and closes the connections still reading; routed ones belong to their services. Idempotent. */
  async close(): Promise<void> {
    this.#closed = true;
    const listeners = this.#listeners.splice(0);
    for (const r of [...this.#reading]) this.#drop(r, undefined);
    await Promise.all(listeners.map((l) => l.close()));
  }

  #onAccept = (socket: Socket): void => {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const max = this.#o.maxReading ?? DEFAULT_MAX_READING;
    if (this.#reading.size >= max) {
      socket.destroy();
      const suppressed = this.#overLimit.take();
      if (suppressed !== undefined) this.#logger.warn({ maxReading: max, suppressed }, `tls: ${max} connections are already reading their ClientHello, closing a new one${suppressed > 0 ? ` (${suppressed} similar suppressed)` : ''}`);
      return;
    }
    const timeoutMs = this.#o.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
    const r: Reading = {
      socket,
      chunks: [],
      bytes: 0,
      timer: this.#clock.setTimer(timeoutMs, () => this.#drop(r, `no ClientHello within ${timeoutMs}ms`)),
      onData: (chunk) => this.#onData(r, chunk),
      onEnd: () => this.#drop(r, 'the client closed before its ClientHello was complete'),
      onError: (err) => this.#drop(r, `client error: ${systemErrorText(err)}`),
      onClose: () => this.#drop(r, 'the client went away'),
    };
    this.#reading.add(r);
    socket.on('data', r.onData);
    socket.on('end', r.onEnd);
    socket.on('error', r.onError);
    socket.on('close', r.onClose);
    socket.resume();
  };

  #onData(r: Reading, chunk: Buffer): void {
    if (!this.#reading.has(r)) return;
    r.chunks.push(chunk);
    r.bytes += chunk.length;
    const data = r.chunks.length === 1 ? chunk : Buffer.concat(r.chunks);
    if (r.chunks.length > 1) r.chunks = [data];
    const hello = parseClientHello(data);
    if (hello.kind === 'more') {
      if (r.bytes > MAX_READ_BYTES) this.#drop(r, `no complete ClientHello in ${r.bytes} bytes`);
      return;
    }
    if (hello.kind === 'invalid') {
      this.#drop(r, hello.why);
      return;
    }
    const name = hello.kind === 'sni' ? hello.name : undefined;
    const target = this.#o.route(name);
    if (target === undefined) {
      this.#drop(r, name === undefined ? 'no server name (SNI) and no tls.defaultService' : `no service for server name "${name}"`);
      return;
    }
    this.#release(r);
    this.#logger.debug({ serverName: name, service: target.name }, `tls: ${name ?? '(no server name)'} → service "${target.name}"`);
    target.admit(r.socket, { chunks: [data] });
  }

  /** Closes a connection that cannot be routed (why: logged at debug; undefined: shutting down). */
  #drop(r: Reading, why: string | undefined): void {
    if (!this.#reading.has(r)) return;
    this.#release(r);
    r.socket.destroy();
    if (why !== undefined) this.#logger.debug({ remote: r.socket.remoteAddress, why }, `tls: closing a connection from ${r.socket.remoteAddress ?? 'a client'}: ${why}`);
  }

  /** No longer the router's: its timer and listeners go, the socket is paused (what it reads next stays queued). */
  #release(r: Reading): void {
    this.#reading.delete(r);
    r.timer.cancel();
    r.socket.pause();
    r.socket.off('data', r.onData).off('end', r.onEnd).off('error', r.onError).off('close', r.onClose);
  }

  #onAcceptError(listener: string, err: Error): void {
    const suppressed = this.#acceptErrors.take();
    if (suppressed !== undefined) this.#logger.error({ listener, suppressed }, `tls: cannot accept a connection on ${listener}: ${systemErrorText(err)}, ignoring`);
  }
}
