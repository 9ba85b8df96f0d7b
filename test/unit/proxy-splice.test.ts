// Bulk streams on the native data path (src/native/conn.c through src/proxy/native.ts), both ways a
// connection gets there: accepted natively while the service is ready ('native': recv/send, then
// splice once it is bulk), or held during a start and forwarded by JavaScript, which hands it to the
// splice pump ('held'). Either way its bytes arrive intact, half-close and resets propagate, the
// lease counts every byte and is released once, and no descriptor (socket or pipe) is left.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { test, type TestContext } from 'node:test';
import type { ConnectionEvent } from '../../src/proxy/frontends/l4/frontend.ts';
import type { Lease } from '../../src/core/backend.ts';
import { nativeSupport, type NativePolicy } from '../../src/proxy/native.ts';
import {
  connect, delay, FakeBackend, fdCount, howItEnds, recordingLogger, startFrontend, startUpstream, waitFor,
} from './proxy-support.ts';

/** Splice after the first MiB, as the daemon does by default. */
const POLICY: NativePolicy = { spliceAfterBytes: 1024 * 1024 };
const MiB = 1024 * 1024;

type Route = 'native' | 'held';
const ROUTES: readonly Route[] = ['native', 'held'];

/** Ready, but never on the accept fast path: every connection is held, then forwarded by JavaScript. */
class HoldingBackend extends FakeBackend {
  override tryAcquire(): Lease | undefined {
    return undefined;
  }
}

async function splicingProxy(t: TestContext, handler: (socket: net.Socket) => void, route: Route, native: NativePolicy | 'none' = POLICY) {
  const upstream = await startUpstream(t, handler);
  const backend = route === 'held' ? new HoldingBackend(upstream.endpoint) : new FakeBackend(upstream.endpoint);
  backend.ready = true;
  const events: ConnectionEvent[] = [];
  const { frontend, port } = await startFrontend(t, backend, { logger: recordingLogger(), onConnection: (e) => events.push(e), native: native === 'none' ? undefined : native });
  assert.deepEqual(frontend.listening.native, [native !== 'none']);
  const lastEnd = () => {
    const last = events.at(-1);
    assert.ok(last?.change === 'close', 'the connection reported its close');
    return last.end;
  };
  return { backend, frontend, port, events, lastEnd };
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Counts and hashes what a socket receives until EOF: "BYTES:SHA256". */
function digestOf(socket: net.Socket): Promise<string> {
  const hash = createHash('sha256');
  let bytes = 0;
  socket.on('data', (c: Buffer) => {
    bytes += c.length;
    hash.update(c);
  });
  return new Promise((resolve) => socket.on('end', () => resolve(`${bytes}:${hash.digest('hex')}`)));
}

/** Resolves once `socket` has received exactly `total` bytes (it keeps reading). */
function receives(socket: net.Socket, total: number): Promise<void> {
  let got = 0;
  socket.on('data', (c: Buffer) => {
    got += c.length;
  });
  return waitFor(`${total} bytes`, () => got === total, 10_000);
}

/** Writes `total` bytes in 1 MiB chunks with backpressure; resolves when all are queued. */
async function stream(socket: net.Socket, total: number): Promise<void> {
  const chunk = Buffer.alloc(MiB, 0x5a);
  for (let sent = 0; sent < total; sent += MiB) {
    if (!socket.write(chunk)) await new Promise((resolve) => socket.once('drain', resolve));
  }
}

test('the native addon is built and loads (npm ci builds it; see DEVELOPERS.md)', () => {
  const support = nativeSupport({});
  assert.ok(support.available, support.available ? '' : `native data path unavailable: ${support.reason}`);
});

test('PORTWAKE_NATIVE=off (or its earlier name PORTWAKE_SPLICE=off) turns the native data path off', () => {
  assert.deepEqual(nativeSupport({ PORTWAKE_NATIVE: 'off' }), { available: false, reason: 'PORTWAKE_NATIVE=off' });
  assert.deepEqual(nativeSupport({ PORTWAKE_SPLICE: '0' }), { available: false, reason: 'PORTWAKE_SPLICE=off' });
});

test('without a policy nothing is spliced (the JavaScript path moves it all)', async (t) => {
  const { frontend, port, lastEnd } = await splicingProxy(t, (socket) => socket.end(Buffer.alloc(8 * MiB)), 'native', 'none');
  const client = await connect(t, { host: '127.0.0.1', port });
  const got = digestOf(client);
  client.end();
  assert.equal((await got).split(':')[0], String(8 * MiB));
  await waitFor('connection closed', () => frontend.open === 0);
  assert.equal(lastEnd().spliced, false);
});

for (const route of ROUTES) {
  test(`a bulk stream is spliced: 64 MiB each way arrive intact and the lease counts every byte [${route}]`, { timeout: 60_000 }, async (t) => {
    const size = 64 * MiB;
    const up = randomBytes(size);
    const down = randomBytes(size);
    let upstreamDigest: Promise<string> | undefined;
    const { backend, frontend, port, lastEnd } = await splicingProxy(t, (socket) => {
      upstreamDigest = digestOf(socket);
      socket.end(down);
    }, route);
    const client = await connect(t, { host: '127.0.0.1', port });
    const clientDigest = digestOf(client);
    client.end(up);
    assert.equal(await clientDigest, `${size}:${sha(down)}`);
    await waitFor('upstream side', () => upstreamDigest !== undefined);
    assert.equal(await upstreamDigest, `${size}:${sha(up)}`);
    await waitFor('connection closed', () => frontend.open === 0);
    const end = lastEnd();
    assert.equal(end.spliced, true, 'the stream went through the pump');
    assert.equal(end.reason, 'done');
    assert.equal(end.bytesIn, size);
    assert.equal(end.bytesOut, size);
    const lease = backend.leases[0];
    assert.equal(lease?.bytesIn, size);
    assert.equal(lease.bytesOut, size);
    assert.equal(lease.releases, 1);
  });

  test(`half-close after the hand-over: the upstream sees EOF and its whole reply still flows back [${route}]`, { timeout: 30_000 }, async (t) => {
    const { frontend, port, lastEnd } = await splicingProxy(t, (socket) => {
      // Reads the upload to its end, then answers with as much again and closes.
      let bytes = 0;
      socket.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      socket.on('end', () => {
        void stream(socket, bytes).then(() => socket.end());
      });
    }, route);
    const client = await connect(t, { host: '127.0.0.1', port });
    const reply = digestOf(client);
    await stream(client, 16 * MiB);
    client.end();
    assert.equal((await reply).split(':')[0], String(16 * MiB));
    await waitFor('connection closed', () => frontend.open === 0);
    const end = lastEnd();
    assert.equal(end.spliced, true);
    assert.equal(end.reason, 'done');
    assert.equal(end.bytesIn, 16 * MiB);
    assert.equal(end.bytesOut, 16 * MiB);
  });

  test(`an upstream reset after the hand-over resets the client [${route}]`, { timeout: 30_000 }, async (t) => {
    let upstream: net.Socket | undefined;
    const { backend, frontend, port, lastEnd } = await splicingProxy(t, (socket) => {
      upstream = socket;
      void stream(socket, 4 * MiB); // then stays open, idle
    }, route);
    const client = await connect(t, { host: '127.0.0.1', port });
    const ended = howItEnds(client);
    // Everything delivered first: a reset with bytes still in flight may reach a reader as a plain
    // EOF (the kernel's doing, the same through the JavaScript path).
    await receives(client, 4 * MiB);
    upstream?.resetAndDestroy();
    assert.equal(await ended, 'ECONNRESET');
    await waitFor('connection closed', () => frontend.open === 0);
    const end = lastEnd();
    assert.equal(end.spliced, true);
    assert.equal(end.reason, 'upstream_reset');
    assert.equal((end.error as NodeJS.ErrnoException | undefined)?.code, 'ECONNRESET');
    assert.equal(backend.leases[0]?.releases, 1);
  });

  test(`a client reset after the hand-over resets the upstream [${route}]`, { timeout: 30_000 }, async (t) => {
    let upstreamEnd: Promise<string> | undefined;
    let received: Promise<void> | undefined;
    const { backend, frontend, port, lastEnd } = await splicingProxy(t, (socket) => {
      upstreamEnd = howItEnds(socket);
      received = receives(socket, 4 * MiB);
    }, route);
    const client = await connect(t, { host: '127.0.0.1', port });
    void stream(client, 4 * MiB).catch(() => undefined);
    await waitFor('upstream connection', () => received !== undefined);
    await received;
    client.resetAndDestroy();
    await waitFor('upstream connection', () => upstreamEnd !== undefined);
    assert.equal(await upstreamEnd, 'ECONNRESET');
    await waitFor('connection closed', () => frontend.open === 0);
    const end = lastEnd();
    assert.equal(end.spliced, true);
    assert.equal(end.reason, 'client_reset');
    assert.equal(backend.leases[0]?.releases, 1);
  });

  test(`while a spliced stream is open, its lease's byte counts follow within about a second (status and metrics read them) [${route}]`, { timeout: 30_000 }, async (t) => {
    const { backend, port, lastEnd, events } = await splicingProxy(t, (socket) => {
      socket.resume();
      void stream(socket, 6 * MiB); // then stays open, idle
    }, route);
    const client = await connect(t, { host: '127.0.0.1', port });
    await receives(client, 6 * MiB);
    await waitFor('the lease to count what was delivered', () => backend.leases[0]?.bytesOut === 6 * MiB, 5_000);
    assert.equal(events.filter((e) => e.change === 'close').length, 0, 'the connection is still open');
    client.resetAndDestroy();
    await waitFor('connection closed', () => events.some((e) => e.change === 'close'));
    assert.equal(lastEnd().spliced, true);
    assert.equal(lastEnd().bytesOut, 6 * MiB);
  });

  test(`a revoked lease resets both sides of a spliced connection; the lease is released once [${route}]`, { timeout: 30_000 }, async (t) => {
    let upstreamEnd: Promise<string> | undefined;
    const { backend, frontend, port, lastEnd } = await splicingProxy(t, (socket) => {
      upstreamEnd = howItEnds(socket);
      socket.resume();
      void stream(socket, 4 * MiB); // then stays open, idle
    }, route);
    const client = await connect(t, { host: '127.0.0.1', port });
    const clientEnd = howItEnds(client);
    await receives(client, 4 * MiB);
    backend.leases[0]?.revoke();
    assert.equal(await clientEnd, 'ECONNRESET');
    assert.equal(await upstreamEnd, 'ECONNRESET');
    await waitFor('connection closed', () => frontend.open === 0);
    const end = lastEnd();
    assert.equal(end.spliced, true);
    assert.equal(end.reason, 'lease_aborted');
    assert.equal(end.bytesOut, 4 * MiB);
    assert.equal(backend.leases[0]?.releases, 1);
  });

  test(`shutdown with no grace resets a spliced connection and close() resolves [${route}]`, { timeout: 30_000 }, async (t) => {
    const { frontend, port, lastEnd } = await splicingProxy(t, (socket) => {
      socket.resume();
      void stream(socket, 4 * MiB);
    }, route);
    const client = await connect(t, { host: '127.0.0.1', port });
    const clientEnd = howItEnds(client);
    await receives(client, 4 * MiB);
    await frontend.close({ graceMs: 0 });
    assert.equal(await clientEnd, 'ECONNRESET');
    const end = lastEnd();
    assert.equal(end.spliced, true);
    assert.equal(end.reason, 'shutdown');
  });

  // The first 32 bulk directions open at a time splice through 1 MiB pipes, the rest through 256 KiB
  // ones (src/native/conn.c): 40 at once take both kinds; a second round runs after every pipe of
  // the first was released.
  test(`40 spliced streams at once (past the 32 with 1 MiB pipes) all arrive intact, twice over [${route}]`, { timeout: 60_000 }, async (t) => {
    const size = 4 * MiB;
    const down = randomBytes(size);
    const { frontend, port, events } = await splicingProxy(t, (socket) => {
      socket.resume();
      socket.end(down);
    }, route);
    for (let round = 0; round < 2; round++) {
      const clients = await Promise.all(Array.from({ length: 40 }, () => connect(t, { host: '127.0.0.1', port })));
      const digests = await Promise.all(clients.map(digestOf));
      assert.deepEqual(new Set(digests), new Set([`${size}:${sha(down)}`]), `round ${round + 1}: every stream intact`);
      for (const c of clients) c.end(); // after the upstream's FIN: both directions end in the pump
      await waitFor('connections closed', () => frontend.open === 0);
    }
    const closes = events.filter((e) => e.change === 'close');
    assert.equal(closes.length, 80);
    assert.ok(closes.every((e) => e.change === 'close' && e.end.spliced && e.end.reason === 'done'), 'every connection was spliced and done');
  });

  test(`no descriptor (socket or pipe) outlives 20 spliced connections [${route}]`, { timeout: 60_000 }, async (t) => {
    const { frontend, port, events } = await splicingProxy(t, (socket) => {
      socket.resume();
      void stream(socket, 4 * MiB).then(() => socket.end());
    }, route);
    const before = fdCount();
    for (let i = 0; i < 20; i++) {
      const client = await connect(t, { host: '127.0.0.1', port });
      const got = digestOf(client);
      assert.equal((await got).split(':')[0], String(4 * MiB));
      client.end(); // after the upstream's FIN: both directions end in the pump
    }
    await waitFor('connections closed', () => frontend.open === 0);
    await delay(50);
    const closes = events.filter((e) => e.change === 'close');
    assert.equal(closes.length, 20);
    assert.ok(closes.every((e) => e.change === 'close' && e.end.spliced && e.end.reason === 'done'), 'every connection was spliced and done');
    assert.ok(fdCount() <= before, `descriptors: ${before} before, ${fdCount()} after`);
  });
}
