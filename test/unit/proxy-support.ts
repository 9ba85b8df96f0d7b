// Test helpers for the proxy tests: a scripted Backend, upstream servers, socket utilities.
// Every helper that opens something registers its cleanup on the test context before use.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import type { Backend, Lease, RefusalReason, RevokeHow , WakeRequest } from '../../src/core/backend.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { Endpoint } from '../../src/core/provider.ts';
import { Frontend, type FrontendOptions } from '../../src/proxy/frontends/l4/frontend.ts';
import { closeDescriptor, DEFAULT_NATIVE_POLICY, listenNative, socketFd, type NativePolicy } from '../../src/proxy/native.ts';

export class FakeLease implements Lease {
  bytesIn = 0;
  bytesOut = 0;
  releases = 0;
  revoked = false;
  onRevoke: ((how: RevokeHow) => void) | undefined = undefined;
  constructor(readonly upstream: Endpoint) {}
  release(): void {
    this.releases += 1;
  }
  /** The container went away underneath: as the activation does it. */
  revoke(how: RevokeHow = 'gone'): void {
    if (this.revoked || this.releases > 0) return;
    this.revoked = true;
    this.onRevoke?.(how);
  }
}

interface Waiter { resolve: (lease: Lease) => void; reject: (err: unknown) => void; signal: AbortSignal; onAbort: () => void }

/** A Backend the test drives: not ready until becomeReady(), failStart() rejects the waiters. */
export class FakeBackend implements Backend {
  readonly name = 'web';
  ready = false;
  readonly leases: FakeLease[] = [];
  readonly refusals: RefusalReason[] = [];
  held = 0;
  acquireCalls = 0;
  /** prepare() calls, and how many connections the frontend held at each. */
  readonly prepared: number[] = [];
  abortedAcquires = 0;
  #waiters: Waiter[] = [];

  constructor(public upstream: Endpoint) {}

  tryAcquire(): Lease | undefined {
    return this.ready ? this.#newLease() : undefined;
  }

  /** Requests asked about (wake filters); `wakes` decides the answer. */
  readonly wakeRequests: WakeRequest[] = [];
  wakes: (request: WakeRequest) => boolean = () => true;

  mayWake(request: WakeRequest): boolean {
    this.wakeRequests.push(request);
    return this.wakes(request);
  }

  acquire(signal: AbortSignal): Promise<Lease> {
    this.acquireCalls += 1;
    if (this.ready) return Promise.resolve(this.#newLease());
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.abortedAcquires += 1;
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          reject(signal.reason as Error);
        },
      };
      if (signal.aborted) {
        waiter.onAbort();
        return;
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Upstreams reported unreachable; by default nothing changes (the service still looks ready). */
  readonly upstreamFailures: Endpoint[] = [];
  onUpstreamFailed: (() => void) | undefined;

  async upstreamFailed(upstream: Endpoint): Promise<void> {
    this.upstreamFailures.push(upstream);
    this.onUpstreamFailed?.();
  }

  /** Runs inside prepare(): lets a test act at the moment a connection starts to be held. */
  onPrepare: (() => void) | undefined;

  prepare(): void {
    this.prepared.push(this.held);
    this.onPrepare?.();
  }

  setHeld(delta: number): void {
    this.held += delta;
  }

  refused(reason: RefusalReason): void {
    this.refusals.push(reason);
  }

  get waiting(): number {
    return this.#waiters.length;
  }

  becomeReady(): void {
    this.ready = true;
    for (const w of this.#take()) w.resolve(this.#newLease());
  }

  failStart(err: Error): void {
    for (const w of this.#take()) w.reject(err);
  }

  #take(): Waiter[] {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.signal.removeEventListener('abort', w.onAbort);
    return waiters;
  }

  #newLease(): FakeLease {
    const lease = new FakeLease(this.upstream);
    this.leases.push(lease);
    return lease;
  }
}

export interface LogRecord { level: string; obj: object; msg: string }

export function recordingLogger(records: LogRecord[] = []): Logger & { records: LogRecord[] } {
  const make = (): Logger & { records: LogRecord[] } => ({
    records,
    debug: (obj, msg) => records.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => records.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => records.push({ level: 'warn', obj, msg }),
    error: (obj, msg) => records.push({ level: 'error', obj, msg }),
    child: () => make(),
  });
  return make();
}

/** A TCP server on 127.0.0.1:0 (half-open allowed) that hands each socket to `handler`. */
export async function startUpstream(t: TestContext, handler: (socket: net.Socket) => void): Promise<{ server: net.Server; endpoint: Endpoint; sockets: Set<net.Socket> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    handler(socket);
  });
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, endpoint: { kind: 'tcp', host: '127.0.0.1', port: (server.address() as net.AddressInfo).port }, sockets };
}

/** An upstream that echoes everything and half-closes after the client does. */
export function echo(socket: net.Socket): void {
  socket.pipe(socket);
}

/** A port nobody listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The data path startFrontend() uses unless a test says: JavaScript, or native (useNativeDataPath). */
let defaultNative: NativePolicy | undefined;

/**
 * From now on startFrontend() builds frontends on the native data path, as the daemon does when the
 * addon is built; proxy-frontend-native.test.ts runs the frontend tests again this way.
 */
export function useNativeDataPath(): void {
  defaultNative = DEFAULT_NATIVE_POLICY;
}

export function nativeDataPath(): NativePolicy | undefined {
  return defaultNative;
}

export async function startFrontend(t: TestContext, backend: Backend, options: Partial<FrontendOptions> = {}): Promise<{ frontend: Frontend; port: number }> {
  const frontend = new Frontend({
    backend,
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }],
    maxConnections: 100,
    maxPending: 100,
    logger: recordingLogger(),
    native: defaultNative,
    ...options,
  });
  t.after(() => frontend.close({ graceMs: 0 }));
  await frontend.listen();
  // The data path asked for is the one in use: a native variant must not quietly test JavaScript.
  const native = ('native' in options ? options.native : defaultNative) !== undefined;
  assert.deepEqual(frontend.listening.native, (options.listen ?? [{ kind: 'tcp' }]).map((l) => native && l.kind !== 'unix'), 'listeners on the requested data path');
  const address = frontend.listening.addresses[0] as net.AddressInfo;
  return { frontend, port: address.port };
}

/**
 * Connects (half-open allowed); the socket is destroyed after the test. Once connected, errors are
 * the caller's to observe (readAll, howItEnds); a reset during cleanup is ignored.
 */
export function connect(t: TestContext, options: net.NetConnectOpts): Promise<net.Socket> {
  const socket = net.connect({ allowHalfOpen: true, ...options });
  t.after(() => socket.destroy());
  return new Promise((resolve, reject) => {
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Everything the socket sends until EOF; rejects on a socket error. */
export function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('error', reject);
  });
}

/** How the socket's read side ended: 'end' (FIN), an error code (ECONNRESET), or 'close'. */
export function howItEnds(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once('end', () => resolve('end'));
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    socket.once('close', () => resolve('close'));
    socket.resume();
  });
}

/** Connects and reports how the connection ended, whether during or after the handshake. */
export function endingOf(t: TestContext, options: net.NetConnectOpts): Promise<string> {
  const socket = net.connect(options);
  t.after(() => socket.destroy());
  return howItEnds(socket);
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * A native listener on a loopback port (its JavaScript server closed once the addon holds a
 * duplicate): `accepted` collects the descriptors it accepts, the test takes them from there. On
 * cleanup it stops and closes those left.
 */
export async function nativeLoopbackListener(t: TestContext): Promise<{ port: number; accepted: number[] }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const accepted: number[] = [];
  const stop = listenNative(socketFd(server) ?? -1, (fd) => accepted.push(fd), (err) => assert.fail(err));
  await new Promise((resolve) => server.close(resolve));
  t.after(() => {
    stop();
    for (const fd of accepted.splice(0)) closeDescriptor(fd);
  });
  return { port, accepted };
}

export function fdCount(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

export function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portwake-proxy-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export { stuckUpstream } from '../support/stuck-upstream.ts';
