// Binds one listen address of a service — TCP, a Unix socket file, or a socket inherited from
// systemd — to a net.Server that hands accepted connections to its owner, paused.

import fs from 'node:fs/promises';
import net from 'node:net';
import type { ListenSpec } from '../../config/types.ts';
import { PortwakeError } from '../../core/errors.ts';
import { closeDescriptor, listenNative, nativeLoaded, socketFd } from '../native.ts';
import { adoptClient, type ClientFd } from '../handoff.ts';
import { KEEPALIVE_INITIAL_DELAY_MS, systemErrorText } from '../sockets.ts';
import { removeStaleSocket } from './stale-socket.ts';

export type TcpListen = Extract<ListenSpec, { kind: 'tcp' }>;
export type UnixListen = Extract<ListenSpec, { kind: 'unix' }>;
/** A socket that is already listening, passed in by number (systemd's LISTEN_FDS, resolved by the daemon). */
export interface FdListen { kind: 'fd'; fd: number; text: string }
export type ListenTarget = TcpListen | UnixListen | FdListen;

export const DEFAULT_BACKLOG = 1024;

export interface ListenOptions {
  /** Service name, for error messages. */
  service: string;
  backlog?: number;
  /**
   * Receives every accepted socket: paused (nothing is read until the owner resumes it), half-open
   * allowed, Nagle off, keepalive on. Installed before the bind, so no connection is missed. The
   * receiver owns the socket from then on.
   */
  onConnection: (socket: net.Socket) => void;
  /**
   * Errors after the bind (EMFILE/ENFILE on accept …), with how many waiting connections were
   * reset for want of descriptors (native listeners only; 1 from a JavaScript one). The listener
   * keeps listening.
   */
  onError: (err: Error, refused: number) => void;
  /**
   * When given and the native addon is available (native.ts), TCP and inherited listeners accept
   * in native code and hand each new connection's descriptor here instead of to onConnection
   * (non-blocking, not read yet, Nagle off, keepalive on). Unix socket files stay with Node, whose
   * listener removes the file on close.
   */
  onDescriptor?: ((fd: ClientFd) => void) | undefined;
}

export interface BoundListener {
  /** The listen address as configured ("127.0.0.1:80", "unix:/run/web.sock", "systemd:web"). */
  readonly text: string;
  /** The bound address, e.g. to read the port a `:0` listener got (net.Server.address()). */
  readonly address: net.AddressInfo | string | null;
  /** Connections are accepted in native code (ListenOptions.onDescriptor). */
  readonly native: boolean;
  /** Node's server, while Node accepts (undefined for a native listener). */
  readonly server: net.Server | undefined;
  /**
   * Sends the connections accepted from now on to other receivers (a reload handing the listening
   * socket to a successor service: nothing in its backlog is lost, the address is never closed).
   * A native listener keeps accepting natively; without onDescriptor its connections become sockets.
   */
  retarget(handlers: ListenHandlers): void;
  /**
   * Stops accepting and closes the listening socket; removes the socket file this listener created
   * (only if it is still the one it created). Idempotent; never rejects. Accepted sockets are
   * untouched: they belong to the receiver of onConnection.
   */
  close(): Promise<void>;
}

/** Where a listener's accepted connections and accept errors go (see ListenOptions). */
export type ListenHandlers = Pick<ListenOptions, 'onConnection' | 'onDescriptor' | 'onError'>;

type Unrouted = Omit<BoundListener, 'retarget'>;

/** Binds a TCP address, a Unix socket path or an inherited fd. Rejects with PortwakeError('LISTEN_FAILED'). */
export async function listen(target: ListenTarget, options: ListenOptions): Promise<BoundListener> {
  // The receivers are looked up per connection, so that retarget() can move them.
  let h: ListenHandlers = options;
  const routed: ListenOptions = {
    ...options,
    onConnection: (socket) => h.onConnection(socket),
    onError: (err, refused) => h.onError(err, refused),
    onDescriptor: options.onDescriptor === undefined ? undefined : (fd) => {
      if (h.onDescriptor !== undefined) h.onDescriptor(fd);
      else h.onConnection(adoptClient(fd));
    },
  };
  let bound: Unrouted;
  switch (target.kind) {
    case 'tcp':
      bound = await listenTcp(target, routed);
      break;
    case 'unix':
      bound = await listenUnix(target, routed);
      break;
    case 'fd':
      bound = await listenFd(target, routed);
      break;
  }
  return { ...bound, retarget: (next) => { h = next; } };
}

/**
 * TCP. host undefined: every address, IPv4 and IPv6 on one dual-stack socket (`::` with
 * IPV6_V6ONLY off; Node falls back to 0.0.0.0 where IPv6 is unavailable). `[::1]` and `::1` both work.
 * An explicit `[::]` is IPv6 only, so that `["0.0.0.0:80", "[::]:80"]` binds both without a clash.
 */
export async function listenTcp(spec: TcpListen, options: ListenOptions): Promise<Unrouted> {
  const server = createServer(options);
  const bindOptions: net.ListenOptions = { port: spec.port, backlog: options.backlog ?? DEFAULT_BACKLOG, ipv6Only: spec.host !== undefined };
  if (spec.host !== undefined) bindOptions.host = unbracket(spec.host);
  await bind(server, bindOptions, spec.text, options);
  return bound(server, spec.text, options);
}

/**
 * A socket that is already bound and listening (systemd socket activation), by fd number. With the
 * native addon it is accepted on as it is — no listen(2) again, so the backlog systemd gave it
 * (Backlog=) stays; the addon works on a duplicate and the passed descriptor is closed. Node's own
 * listener (no addon) must call listen(2) again, with options.backlog.
 */
export async function listenFd(target: { fd: number; text: string }, options: ListenOptions): Promise<Unrouted> {
  if (options.onDescriptor !== undefined && nativeLoaded()) {
    let unlisten: (() => void) | undefined;
    try {
      unlisten = listenNative(target.fd, options.onDescriptor, options.onError);
    } catch {
      // No descriptor left for the duplicate (EMFILE), or not a socket: Node takes it below (and
      // says what is wrong with it).
    }
    if (unlisten !== undefined) {
      closeDescriptor(target.fd);
      const close = unlisten;
      return { text: target.text, address: null, native: true, server: undefined, close: () => { close(); return Promise.resolve(); } };
    }
  }
  const server = createServer(options);
  await bind(server, { fd: target.fd, backlog: options.backlog ?? DEFAULT_BACKLOG }, target.text, options);
  return bound(server, target.text, options);
}

/**
 * A bound TCP or inherited listener: kept by Node, or — with onDescriptor and the addon — moved to
 * native code: the addon accepts on a duplicate of the listening descriptor and Node's server is
 * closed (the socket stays open through the duplicate; nothing waiting in its backlog is lost).
 */
function bound(server: net.Server, text: string, options: ListenOptions): Unrouted {
  const fd = socketFd(server);
  if (options.onDescriptor === undefined || fd === undefined || !nativeLoaded()) return keptByNode(server, text);
  let unlisten: () => void;
  try {
    unlisten = listenNative(fd, options.onDescriptor, options.onError);
  } catch {
    // No descriptor left to duplicate the listening one (EMFILE): Node keeps accepting on it.
    return keptByNode(server, text);
  }
  const address = server.address();
  server.close();
  return {
    text,
    address,
    native: true,
    server: undefined,
    close: () => {
      unlisten();
      return Promise.resolve();
    },
  };
}

/** A listener Node accepts on. */
function keptByNode(server: net.Server, text: string): Unrouted {
  return { text, address: server.address(), native: false, server, close: () => closeServer(server) };
}

/**
 * A Unix socket file. A leftover file from a process that died is replaced (probed by connecting:
 * refused means nobody listens); a file a live process listens on, or a file that is not a socket,
 * is an error. With spec.mode the file is chmod'ed right after the bind.
 */
export async function listenUnix(spec: UnixListen, options: ListenOptions): Promise<Unrouted> {
  const fail = (reason: string, cause?: unknown): PortwakeError =>
    new PortwakeError('LISTEN_FAILED', `service "${options.service}": cannot listen on ${spec.text}: ${reason}`, { cause });
  await removeStaleSocket(spec.path, fail);
  const server = createServer(options);
  await bind(server, { path: spec.path, backlog: options.backlog ?? DEFAULT_BACKLOG }, spec.text, options);
  try {
    if (spec.mode !== undefined) await fs.chmod(spec.path, spec.mode);
  } catch (err) {
    await closeServer(server);
    throw fail(`cannot set mode ${spec.mode?.toString(8) ?? ''} on ${spec.path}: ${systemErrorText(err)}`, err);
  }
  // libuv unlinks the file it bound when the listener closes. Removing it again on close would race
  // with a successor bound at the same path (a reload), whose socket may even get the same inode.
  return keptByNode(server, spec.text);
}

function createServer(options: ListenOptions): net.Server {
  const server = net.createServer({
    allowHalfOpen: true,
    pauseOnConnect: true,
    noDelay: true,
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_INITIAL_DELAY_MS,
  });
  server.on('connection', options.onConnection);
  return server;
}

function bind(server: net.Server, bindOptions: net.ListenOptions | { fd: number; backlog: number }, text: string, options: ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const onListenError = (err: Error): void => {
      server.off('listening', onListening);
      reject(new PortwakeError('LISTEN_FAILED', `service "${options.service}": cannot listen on ${text}: ${systemErrorText(err)}`, { cause: err }));
    };
    const onListening = (): void => {
      server.off('error', onListenError);
      // From now on errors are about accepting (EMFILE …): the owner decides, the server stays up.
      server.on('error', (err) => options.onError(err, 1));
      resolve();
    };
    server.once('error', onListenError);
    server.once('listening', onListening);
    try {
      // An inherited fd takes its backlog as an argument (Node ignores options.backlog there and
      // would re-listen with 511, overriding the configured one).
      if ('fd' in bindOptions) server.listen({ fd: bindOptions.fd }, bindOptions.backlog);
      else server.listen(bindOptions);
    } catch (err) {
      // Synchronous validation errors (a bad fd, a port out of range).
      server.off('error', onListenError);
      server.off('listening', onListening);
      onListenError(err as Error);
    }
  });
}

function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    // The callback fires once every accepted socket is gone too; the owner tracks those itself,
    // so resolve as soon as the listening socket is closed.
    server.close();
    setImmediate(resolve);
  });
}

function unbracket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
