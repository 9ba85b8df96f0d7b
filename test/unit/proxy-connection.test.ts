// The byte pipe of one forwarded connection, mostly through a Frontend whose backend is ready: half-close,
// resets, big transfers, backpressure, lease release and abort, unreachable upstreams.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { systemClock } from '../../src/core/clock.ts';
import { Connection, type ConnectionEnd } from '../../src/proxy/pipe/connection.ts';
import { Handoff } from '../../src/proxy/handoff.ts';
import type { ConnectionEvent } from '../../src/proxy/frontends/l4/frontend.ts';
import {
  closedPort, connect, delay, echo, FakeBackend, FakeLease, howItEnds, readAll, recordingLogger, startFrontend, startUpstream, stuckUpstream, tempDir, waitFor,
} from './proxy-support.ts';

async function readyProxy(t: TestContext, handler: (socket: net.Socket) => void) {
  const upstream = await startUpstream(t, handler);
  const backend = new FakeBackend(upstream.endpoint);
  backend.ready = true;
  const events: ConnectionEvent[] = [];
  const logger = recordingLogger();
  const { frontend, port } = await startFrontend(t, backend, { logger, onConnection: (e) => events.push(e) });
  return { upstream, backend, frontend, port, events, logger };
}

test('bytes flow both ways; the lease counts them and is released once at the end', async (t) => {
  const { backend, frontend, port, events } = await readyProxy(t, echo);
  const client = await connect(t, { host: '127.0.0.1', port });
  const reply = readAll(client);
  client.end('hello upstream');
  assert.equal((await reply).toString(), 'hello upstream');
  await waitFor('connection closed', () => frontend.open === 0);
  const lease = backend.leases[0];
  assert.ok(lease);
  assert.equal(backend.leases.length, 1);
  assert.equal(lease.releases, 1);
  assert.equal(lease.bytesIn, 14);
  assert.equal(lease.bytesOut, 14);
  assert.deepEqual(events.map((e) => e.change), ['open', 'close']);
  const last = events[1];
  assert.ok(last?.change === 'close');
  assert.equal(last.end.reason, 'done');
});

test('client half-close: the upstream sees EOF and the full reply still flows back', async (t) => {
  const replySize = 4 * 1024 * 1024;
  const { backend, frontend, port } = await readyProxy(t, (socket) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => {
      // Answer only after the request's EOF, with a big body, then close.
      const request = Buffer.concat(chunks).toString();
      socket.write(`${request}:`);
      socket.end(Buffer.alloc(replySize, 'r'));
    });
  });
  const client = await connect(t, { host: '127.0.0.1', port });
  const reply = readAll(client);
  client.end('GET');
  const body = await reply;
  assert.equal(body.length, 4 + replySize);
  assert.equal(body.subarray(0, 4).toString(), 'GET:');
  await waitFor('connection closed', () => frontend.open === 0);
  assert.equal(backend.leases[0]?.releases, 1);
});

test('upstream half-close: the client sees EOF and can still send', async (t) => {
  const received: Buffer[] = [];
  const { port } = await readyProxy(t, (socket) => {
    socket.end('banner');
    socket.on('data', (c: Buffer) => received.push(c));
  });
  const client = await connect(t, { host: '127.0.0.1', port });
  assert.equal((await readAll(client)).toString(), 'banner');
  client.end('late bytes');
  await waitFor('late bytes upstream', () => Buffer.concat(received).toString() === 'late bytes');
});

test('an upstream reset resets the client', async (t) => {
  const { backend, frontend, port, events } = await readyProxy(t, (socket) => {
    socket.once('data', () => socket.resetAndDestroy());
  });
  const client = await connect(t, { host: '127.0.0.1', port });
  const ended = howItEnds(client);
  client.write('boom');
  assert.equal(await ended, 'ECONNRESET');
  await waitFor('connection closed', () => frontend.open === 0);
  assert.equal(backend.leases[0]?.releases, 1);
  const last = events.at(-1);
  assert.ok(last?.change === 'close');
  assert.equal(last.end.reason, 'upstream_reset');
});

test('a client reset resets the upstream', async (t) => {
  let upstreamEnd: Promise<string> | undefined;
  const { backend, frontend, port } = await readyProxy(t, (socket) => {
    upstreamEnd = howItEnds(socket);
  });
  const client = await connect(t, { host: '127.0.0.1', port });
  client.write('x');
  await waitFor('upstream connection', () => upstreamEnd !== undefined);
  await delay(20);
  client.resetAndDestroy();
  assert.equal(await upstreamEnd, 'ECONNRESET');
  await waitFor('connection closed', () => frontend.open === 0);
  assert.equal(backend.leases[0]?.releases, 1);
});

test('64 MiB each way arrive intact (sha256)', { timeout: 60_000 }, async (t) => {
  const size = 64 * 1024 * 1024;
  const up = randomBytes(size);
  const down = randomBytes(size);
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
  let upstreamDigest: Promise<string> | undefined;
  const { backend, frontend, port } = await readyProxy(t, (socket) => {
    const hash = createHash('sha256');
    let bytes = 0;
    socket.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    upstreamDigest = new Promise((resolve) => socket.on('end', () => resolve(`${bytes}:${hash.digest('hex')}`)));
    socket.end(down);
  });
  const client = await connect(t, { host: '127.0.0.1', port });
  const started = Date.now();
  const hash = createHash('sha256');
  let bytes = 0;
  client.on('data', (c: Buffer) => {
    bytes += c.length;
    hash.update(c);
  });
  const clientDone = new Promise<string>((resolve) => client.on('end', () => resolve(`${bytes}:${hash.digest('hex')}`)));
  client.end(up);
  assert.equal(await clientDone, `${size}:${sha(down)}`);
  await waitFor('upstream side', () => upstreamDigest !== undefined);
  assert.equal(await upstreamDigest, `${size}:${sha(up)}`);
  t.diagnostic(`64 MiB each way in ${Date.now() - started}ms`);
  await waitFor('connection closed', () => frontend.open === 0);
  const lease = backend.leases[0];
  assert.equal(lease?.bytesIn, size);
  assert.equal(lease.bytesOut, size);
  assert.equal(lease.releases, 1);
});

test('backpressure: a slow upstream stalls the client instead of filling the proxy', async (t) => {
  let upstreamSocket: net.Socket | undefined;
  const { port } = await readyProxy(t, (socket) => {
    upstreamSocket = socket;
    socket.pause(); // reads nothing
  });
  const client = await connect(t, { host: '127.0.0.1', port });
  const size = 64 * 1024 * 1024;
  client.write(Buffer.alloc(size, 'b'));
  await waitFor('upstream connection', () => upstreamSocket !== undefined);
  await delay(300);
  // Kernel buffers (client, proxy both sides, upstream) plus one stream buffer per side hold a few
  // MiB at most; everything else must still be queued in the client.
  const inFlight = size - client.writableLength;
  assert.ok(inFlight < 16 * 1024 * 1024, `the proxy absorbed ${inFlight} bytes`);
  // …and it all flows once the upstream reads.
  let got = 0;
  upstreamSocket?.on('data', (c: Buffer) => {
    got += c.length;
  });
  upstreamSocket?.resume();
  await waitFor('all bytes upstream', () => got === size, 20_000);
});

test('a revoked lease closes the connection (both sides reset), lease released once', async (t) => {
  let upstreamEnd: Promise<string> | undefined;
  const { backend, frontend, port, events } = await readyProxy(t, (socket) => {
    upstreamEnd = howItEnds(socket);
    socket.write('ready');
  });
  const client = await connect(t, { host: '127.0.0.1', port });
  await new Promise((resolve) => client.once('data', resolve));
  const ended = howItEnds(client);
  backend.leases[0]?.revoke();
  assert.equal(await ended, 'ECONNRESET');
  assert.equal(await upstreamEnd, 'ECONNRESET');
  await waitFor('connection closed', () => frontend.open === 0);
  assert.equal(backend.leases[0]?.releases, 1);
  const last = events.at(-1);
  assert.ok(last?.change === 'close');
  assert.equal(last.end.reason, 'lease_aborted');
});

test('upstream refusing the connection: the service re-checks once, then the client is closed and it is reported', async (t) => {
  const backend = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: await closedPort() });
  backend.ready = true;
  const events: ConnectionEvent[] = [];
  const logger = recordingLogger();
  const { frontend, port } = await startFrontend(t, backend, { logger, onConnection: (e) => events.push(e) });
  for (let i = 0; i < 3; i++) {
    const client = await connect(t, { host: '127.0.0.1', port });
    const ended = howItEnds(client);
    client.write('hello');
    assert.match(await ended, /^(end|ECONNRESET)$/);
  }
  await waitFor('connections closed', () => frontend.open === 0);
  // Each client: refused, handed back while the service re-checks its container, refused again, closed.
  assert.equal(backend.upstreamFailures.length, 3);
  assert.deepEqual(backend.leases.map((l) => l.releases), [1, 1, 1, 1, 1, 1]);
  const closes = events.filter((e) => e.change === 'close');
  assert.deepEqual(closes.map((e) => e.change === 'close' && `${e.end.reason}${e.end.handedBack ? ' (retried)' : ''}`), Array(3).fill(['upstream_unreachable (retried)', 'upstream_unreachable']).flat());
  // Logged once (rate-limited), with the facts.
  const warnings = logger.records.filter((r) => r.level === 'warn');
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]?.msg ?? '', /^service "web": cannot connect to upstream 127\.0\.0\.1:\d+: connection refused \(ECONNREFUSED\), closing the client connection$/);
});

test('a refused upstream whose container died: the client is held and served by the restarted service, its bytes intact', async (t) => {
  const dead = await closedPort();
  const live = await startUpstream(t, (socket) => {
    socket.once('data', (chunk: Buffer) => socket.end(`echo:${chunk.toString()}`));
  });
  const backend = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: dead });
  backend.ready = true;
  // The re-check finds the container gone: not ready until "restarted" on the live upstream.
  backend.onUpstreamFailed = () => {
    backend.ready = false;
    setTimeout(() => {
      backend.upstream = live.endpoint;
      backend.becomeReady();
    }, 50);
  };
  const { port } = await startFrontend(t, backend);
  const client = await connect(t, { host: '127.0.0.1', port });
  client.write('first-request');
  const reply = await new Promise<string>((resolve, reject) => {
    let text = '';
    client.on('data', (c: Buffer) => { text += c.toString(); });
    client.on('end', () => resolve(text));
    client.on('error', reject);
  });
  assert.equal(reply, 'echo:first-request');
  assert.equal(backend.upstreamFailures.length, 1);
});

test('an upstream that never completes the handshake: the connect times out and the client is closed', async (t) => {
  // A stopped process's full accept queue: the kernel drops further SYNs, the connect hangs.
  const backend = new FakeBackend(await stuckUpstream(t));
  backend.ready = true;
  const events: ConnectionEvent[] = [];
  const { frontend, port } = await startFrontend(t, backend, { connectTimeoutMs: 300, onConnection: (e) => events.push(e) });
  const client = await connect(t, { host: '127.0.0.1', port });
  const ended = howItEnds(client);
  client.write('hello');
  const started = Date.now();
  assert.match(await ended, /^(end|ECONNRESET)$/);
  assert.ok(Date.now() - started < 2000);
  await waitFor('connection closed', () => frontend.open === 0);
  assert.equal(backend.leases[0]?.releases, 1);
  const last = events.at(-1);
  assert.ok(last?.change === 'close');
  assert.equal(last.end.reason, 'upstream_unreachable');
  assert.equal(last.end.error?.message, 'connect timed out after 300ms');
});

test('a Unix socket upstream', async (t) => {
  const file = path.join(tempDir(t), 'app.sock');
  const server = net.createServer({ allowHalfOpen: true }, echo);
  t.after(() => server.close());
  await new Promise<void>((resolve) => server.listen(file, resolve));
  const backend = new FakeBackend({ kind: 'unix', path: file });
  backend.ready = true;
  const { frontend, port } = await startFrontend(t, backend);
  const client = await connect(t, { host: '127.0.0.1', port });
  const reply = readAll(client);
  client.end('over unix');
  assert.equal((await reply).toString(), 'over unix');
  await waitFor('connection closed', () => frontend.open === 0);
  assert.equal(backend.leases[0]?.releases, 1);
});

test('an IPv6 upstream ([::1]) and an upstream given by name (localhost, looked up) are both served', async (t) => {
  for (const [host, bind] of [['::1', '::1'], ['localhost', '127.0.0.1']] as const) {
    const server = net.createServer({ allowHalfOpen: true }, echo);
    t.after(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, bind, resolve));
    const backend = new FakeBackend({ kind: 'tcp', host, port: (server.address() as net.AddressInfo).port });
    backend.ready = true;
    const { frontend, port } = await startFrontend(t, backend);
    const client = await connect(t, { host: '127.0.0.1', port });
    const reply = readAll(client);
    client.end(`to ${host}`);
    assert.equal((await reply).toString(), `to ${host}`);
    await waitFor('connection closed', () => frontend.open === 0);
    assert.equal(backend.leases[0]?.releases, 1);
  }
});

test('small chunks queued behind a full client buffer do not stall the stream once the client reads', { timeout: 60_000 }, async (t) => {
  // Each upstream write is one small read at the proxy; once the client's socket buffer is full a
  // small chunk is queued without crossing Node's high-water mark, so no 'drain' would ever come.
  const total = 24 * 1024 * 1024;
  const chunk = Buffer.alloc(4096, 'c');
  const { port } = await readyProxy(t, (socket) => {
    let sent = 0;
    const next = (): void => {
      if (sent >= total || socket.destroyed) {
        socket.end();
        return;
      }
      sent += chunk.length;
      if (socket.write(chunk)) setImmediate(next);
      else socket.once('drain', next);
    };
    next();
  });
  const client = await connect(t, { host: '127.0.0.1', port });
  client.pause();
  await delay(1500); // the kernel buffers on the client's side fill up
  let got = 0;
  client.on('data', (c: Buffer) => {
    got += c.length;
  });
  client.resume();
  await waitFor('every byte', () => got === total, 30_000);
});

test('a client EOF that came between the hold and the connect (its end event already emitted) still reaches the upstream after the held bytes', { timeout: 10_000 }, async (t) => {
  let upstreamGot = '';
  const upstream = await startUpstream(t, (s) => {
    s.on('data', (d: Buffer) => {
      upstreamGot += d.toString();
    });
    s.on('end', () => s.end('pong'));
  });
  const server = net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = await connect(t, { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  client.end('ping');
  // As after a hold whose listeners were removed just before the client's FIN was read: the bytes
  // were kept, the 'end' went to nobody.
  const socket = await accepted;
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise((resolve) => socket.once('end', resolve));
  socket.removeAllListeners('data');
  socket.pause();
  assert.equal(socket.readableEnded, true);

  const reply = readAll(client);
  const lease = new FakeLease(upstream.endpoint);
  let end: ConnectionEnd | undefined;
  new Connection({ client: Handoff.toConnection(socket, { chunks }), lease, clock: systemClock, connectTimeoutMs: 5000, onClosed: (_c, e) => { end = e; } });
  assert.equal((await reply).toString(), 'pong');
  assert.equal(upstreamGot, 'ping');
  await waitFor('the connection closed', () => end !== undefined);
  assert.equal(end?.reason, 'done');
  assert.equal(lease.releases, 1);
});
