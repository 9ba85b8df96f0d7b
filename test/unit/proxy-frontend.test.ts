// Frontend on real sockets with a scripted backend: holding during a start, limits, failures,
// file descriptors, graceful close, listen failures, a full fd table.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import type { Lease } from '../../src/core/backend.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { Frontend } from '../../src/proxy/frontends/l4/frontend.ts';
import {
  closedPort, connect, delay, echo, endingOf, FakeBackend, FakeLease, fdCount, howItEnds, nativeDataPath, readAll, recordingLogger, startFrontend, startUpstream, stuckUpstream, tempDir, waitFor,
} from './proxy-support.ts';

/** An upstream that records everything it receives and echoes it back after the client's EOF. */
function recorder(received: Buffer[][]) {
  return (socket: net.Socket): void => {
    const chunks: Buffer[] = [];
    received.push(chunks);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end(Buffer.concat(chunks)));
  };
}

test('early bytes are held during the start and delivered in order, EOF last', async (t) => {
  const received: Buffer[][] = [];
  const upstream = await startUpstream(t, recorder(received));
  const backend = new FakeBackend(upstream.endpoint);
  const { frontend, port } = await startFrontend(t, backend);

  const client = await connect(t, { host: '127.0.0.1', port });
  const reply = readAll(client);
  const parts = [Buffer.from('first,'), Buffer.from('second,'), Buffer.alloc(1024 * 1024, 'x'), Buffer.from(',last')];
  await waitFor('held', () => frontend.held === 1 && backend.held === 1 && backend.waiting === 1);
  for (const part of parts) {
    client.write(part);
    await delay(20);
  }
  client.end();
  await delay(100);
  assert.equal(received.length, 0, 'nothing reaches the upstream before ready');
  backend.becomeReady();

  const expected = Buffer.concat(parts);
  assert.ok((await reply).equals(expected));
  assert.ok(Buffer.concat(received[0] ?? []).equals(expected));
  await waitFor('closed', () => frontend.open === 0);
  assert.equal(frontend.held, 0);
  assert.equal(backend.held, 0);
  assert.equal(backend.leases[0]?.releases, 1);
  assert.equal(backend.leases[0]?.bytesIn, expected.length);
});

test('a connection whose lease is revoked while its upstream is still connecting is held again and served by the next start', async (t) => {
  const stuck = await stuckUpstream(t);
  const good = await startUpstream(t, echo);
  const backend = new FakeBackend(stuck);
  backend.ready = true;
  const { port } = await startFrontend(t, backend);
  const client = await connect(t, { host: '127.0.0.1', port });
  const reply = readAll(client);
  client.write('hello ');
  await waitFor('connecting', () => backend.leases.length === 1);
  await delay(50);
  // The container stops underneath: the service is no longer ready and revokes its leases.
  backend.ready = false;
  backend.upstream = good.endpoint;
  backend.leases[0]?.revoke();
  await waitFor('held again', () => backend.waiting === 1);
  backend.becomeReady();
  client.end('world');
  assert.equal((await reply).toString(), 'hello world');
});

test('a held client that resets releases its pending slot and aborts its acquire', async (t) => {
  const backend = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: await closedPort() });
  const { frontend, port } = await startFrontend(t, backend);
  const client = await connect(t, { host: '127.0.0.1', port });
  client.write('GET / HTTP/1.1\r\n');
  await waitFor('held', () => frontend.held === 1);
  client.resetAndDestroy();
  await waitFor('released', () => frontend.held === 0 && backend.held === 0);
  assert.equal(backend.abortedAcquires, 1);
  assert.equal(backend.waiting, 0);
  backend.becomeReady();
  assert.equal(backend.leases.length, 0);
});

test('a lease that arrives after the held client left is released at once', async (t) => {
  // A backend that ignores the abort and hands out the lease anyway.
  const backend = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: await closedPort() });
  let grant: ((lease: Lease) => void) | undefined;
  backend.acquire = () => new Promise<Lease>((resolve) => {
    grant = resolve;
  });
  const { frontend, port } = await startFrontend(t, backend);
  const client = await connect(t, { host: '127.0.0.1', port });
  client.write('x');
  await waitFor('held', () => frontend.held === 1 && grant !== undefined);
  client.resetAndDestroy();
  await waitFor('released', () => frontend.held === 0);
  const lease = new FakeLease(backend.upstream);
  grant?.(lease);
  await waitFor('lease released', () => lease.releases === 1);
  await delay(20);
  assert.equal(lease.releases, 1);
  assert.equal(frontend.open, 0);
});

test('a failed start closes every held client promptly', async (t) => {
  const backend = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: await closedPort() });
  const { frontend, port } = await startFrontend(t, backend);
  const endings: Promise<string>[] = [];
  for (let i = 0; i < 3; i++) {
    const client = await connect(t, { host: '127.0.0.1', port });
    client.write('hello');
    endings.push(howItEnds(client));
  }
  await waitFor('held', () => frontend.held === 3);
  const failedAt = Date.now();
  backend.failStart(new PortwakeError('READY_TIMEOUT', 'container "web" not ready after 1s'));
  for (const how of await Promise.all(endings)) assert.match(how, /^(end|ECONNRESET)$/);
  assert.ok(Date.now() - failedAt < 1000);
  assert.equal(frontend.held, 0);
  assert.equal(backend.held, 0);
  assert.deepEqual(backend.refusals, ['start_failed', 'start_failed', 'start_failed']);
});

test('maxConnections: one more is refused at once; a free slot accepts again', async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  backend.ready = true;
  const { frontend, port } = await startFrontend(t, backend, { maxConnections: 2 });
  const a = await connect(t, { host: '127.0.0.1', port });
  await connect(t, { host: '127.0.0.1', port });
  await waitFor('two open', () => frontend.open === 2);
  assert.match(await endingOf(t, { host: '127.0.0.1', port }), /^(end|ECONNRESET)$/);
  assert.deepEqual(backend.refusals, ['max_connections']);

  a.end();
  await waitFor('one open', () => frontend.open === 1);
  const c = await connect(t, { host: '127.0.0.1', port });
  const reply = readAll(c);
  c.end('again');
  assert.equal((await reply).toString(), 'again');
});

test('maxPending: one more held connection is refused; held ones count toward maxConnections', async (t) => {
  const backend = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: await closedPort() });
  const pending = await startFrontend(t, backend, { maxPending: 2, maxConnections: 10 });
  await connect(t, { host: '127.0.0.1', port: pending.port });
  await connect(t, { host: '127.0.0.1', port: pending.port });
  await waitFor('two held', () => pending.frontend.held === 2);
  assert.match(await endingOf(t, { host: '127.0.0.1', port: pending.port }), /^(end|ECONNRESET)$/);
  assert.deepEqual(backend.refusals, ['max_pending']);
  assert.equal(backend.held, 2);

  const backend2 = new FakeBackend(backend.upstream);
  const total = await startFrontend(t, backend2, { maxPending: 10, maxConnections: 1 });
  await connect(t, { host: '127.0.0.1', port: total.port });
  await waitFor('one held', () => total.frontend.held === 1);
  assert.match(await endingOf(t, { host: '127.0.0.1', port: total.port }), /^(end|ECONNRESET)$/);
  assert.deepEqual(backend2.refusals, ['max_connections']);
});

test('file descriptors return to baseline after many connections of every kind', { timeout: 60_000 }, async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  const { frontend, port } = await startFrontend(t, backend, { maxPending: 40, maxConnections: 1000 });
  const deadBackend = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: await closedPort() });
  deadBackend.ready = true;
  const dead = await startFrontend(t, deadBackend);
  await delay(50);
  const baseline = fdCount();

  const roundTrip = async (): Promise<void> => {
    const client = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    client.on('error', () => undefined);
    const reply = readAll(client).catch(() => Buffer.alloc(0));
    client.end('ping');
    await reply;
    client.destroy();
  };
  const resetMidway = async (): Promise<void> => {
    const client = await new Promise<net.Socket>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
      s.on('error', () => undefined);
    });
    client.write('x');
    await delay(5);
    client.resetAndDestroy();
  };
  const toDeadUpstream = async (): Promise<void> => {
    const client = net.connect({ host: '127.0.0.1', port: dead.port });
    await howItEnds(client);
    client.destroy();
  };

  // 1) held during a start (more than maxPending: some are refused), then forwarded
  const held = Array.from({ length: 60 }, () => roundTrip());
  await waitFor('40 held, 20 refused', () => frontend.held === 40 && backend.refusals.length === 20);
  backend.becomeReady();
  await Promise.all(held);
  // 2) fast path, resets, unreachable upstream
  for (let round = 0; round < 5; round++) {
    await Promise.all([
      ...Array.from({ length: 40 }, () => roundTrip()),
      ...Array.from({ length: 10 }, () => resetMidway()),
      ...Array.from({ length: 10 }, () => toDeadUpstream()),
    ]);
  }
  await waitFor('all closed', () => frontend.open === 0 && frontend.held === 0 && dead.frontend.open === 0 && upstream.sockets.size === 0);
  await waitFor(`fd count back to ${baseline}`, () => fdCount() <= baseline, 2000).catch(() => undefined);
  assert.equal(fdCount(), baseline);
  assert.ok(backend.refusals.every((r) => r === 'max_pending'));
  assert.equal(backend.refusals.length, 20);
  for (const lease of [...backend.leases, ...deadBackend.leases]) assert.equal(lease.releases, 1);
});

test('close(): stops accepting, lets an open connection run up to the grace period, then destroys it', async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  backend.ready = true;
  const { frontend, port } = await startFrontend(t, backend);
  const client = await connect(t, { host: '127.0.0.1', port });
  await waitFor('open', () => frontend.open === 1);

  const started = Date.now();
  let closedAt = 0;
  const closing = frontend.close({ graceMs: 400 }).then(() => {
    closedAt = Date.now();
  });
  await delay(50);
  await assert.rejects(connect(t, { host: '127.0.0.1', port }), { code: 'ECONNREFUSED' });
  // Still forwarding during the grace period.
  const echoed = new Promise((resolve) => client.once('data', resolve));
  client.write('still here');
  assert.equal(String(await echoed), 'still here');
  assert.equal(closedAt, 0);

  const ended = howItEnds(client);
  await closing;
  assert.match(await ended, /^(ECONNRESET|end|close)$/);
  assert.ok(closedAt - started >= 390, `closed after ${closedAt - started}ms`);
  assert.equal(frontend.open, 0);
  assert.equal(backend.leases[0]?.releases, 1);
});

test('close(): resolves as soon as the last connection ends; held ones are closed at once', async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  const { frontend, port } = await startFrontend(t, backend);
  const heldClient = await connect(t, { host: '127.0.0.1', port });
  await waitFor('held', () => frontend.held === 1);
  backend.ready = true;
  const client = await connect(t, { host: '127.0.0.1', port });
  await waitFor('open', () => frontend.open === 1);

  const heldEnded = howItEnds(heldClient);
  const started = Date.now();
  const closing = frontend.close({ graceMs: 10_000 });
  assert.match(await heldEnded, /^(end|ECONNRESET)$/);
  assert.deepEqual(backend.refusals, ['shutting_down']);
  client.end();
  await closing;
  assert.ok(Date.now() - started < 2000);
  // Closing again (shutdown after a reload closed it) resolves at once instead of hanging.
  await Promise.race([frontend.close({ graceMs: 0 }), delay(1000).then(() => assert.fail('a second close() hangs'))]);
});

test('close({ held: \'serve\' }) (a reload): a held client is still served by the start in flight', async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  const { frontend, port } = await startFrontend(t, backend);
  const client = await connect(t, { host: '127.0.0.1', port });
  await waitFor('held', () => frontend.held === 1);
  const closing = frontend.close({ graceMs: 10_000, held: 'serve' });
  let closed = false;
  void closing.then(() => { closed = true; });
  await delay(100);
  assert.equal(closed, false, 'close waits for the held client');
  await assert.rejects(connect(t, { host: '127.0.0.1', port }), 'no longer accepting');
  backend.becomeReady();
  const reply = readAll(client);
  client.end('still served');
  assert.equal((await reply).toString(), 'still served');
  await closing;
  assert.deepEqual(backend.refusals, []);
});

test('a Unix socket listener serves, and close() removes its file', async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  backend.ready = true;
  const file = path.join(tempDir(t), 'web.sock');
  const { frontend } = await startFrontend(t, backend, { listen: [{ kind: 'unix', path: file, mode: 0o660, text: `unix:${file}` }] });
  assert.deepEqual(frontend.listeners, [`unix:${file}`]);
  assert.equal(fs.statSync(file).mode & 0o777, 0o660);
  const client = await connect(t, { path: file });
  const reply = readAll(client);
  client.end('via unix');
  assert.equal((await reply).toString(), 'via unix');
  await frontend.close({ graceMs: 1000 });
  assert.equal(fs.existsSync(file), false);
  assert.equal(backend.leases[0]?.releases, 1);
});

test('listen(): one bad address closes those already bound and rejects with LISTEN_FAILED', async (t) => {
  const busy = net.createServer();
  t.after(() => busy.close());
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  const busyPort = (busy.address() as net.AddressInfo).port;
  const freePort = await closedPort();
  const frontend = new Frontend({
    backend: new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: 1 }),
    listen: [
      { kind: 'tcp', host: '127.0.0.1', port: freePort, text: `127.0.0.1:${freePort}` },
      { kind: 'tcp', host: '127.0.0.1', port: busyPort, text: `127.0.0.1:${busyPort}` },
    ],
    maxConnections: 10,
    maxPending: 10,
    logger: recordingLogger(),
  });
  t.after(() => frontend.close({ graceMs: 0 }));
  await assert.rejects(frontend.listen(), {
    code: 'LISTEN_FAILED',
    message: `service "web": cannot listen on 127.0.0.1:${busyPort}: address already in use (EADDRINUSE)`,
  });
  await assert.rejects(connect(t, { host: '127.0.0.1', port: freePort }), { code: 'ECONNREFUSED' });
});

test('accept errors from a Node listener never crash: EMFILE is an fd_limit refusal, logged rate-limited, and serving goes on', async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  backend.ready = true;
  const logger = recordingLogger();
  // Node's listener (the native one reports real EMFILEs: see the RLIMIT_NOFILE test).
  const { frontend, port } = await startFrontend(t, backend, { logger, native: undefined });
  const server = frontend.listening.servers[0];
  assert.ok(server);
  const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE', errno: -24, syscall: 'accept' });
  for (let i = 0; i < 5; i++) server.emit('error', emfile);
  server.emit('error', Object.assign(new Error('accept EPERM'), { code: 'EPERM', errno: -1, syscall: 'accept' }));
  assert.deepEqual(backend.refusals, ['fd_limit', 'fd_limit', 'fd_limit', 'fd_limit', 'fd_limit']);
  assert.deepEqual(logger.records.filter((r) => r.level !== 'debug').map((r) => `${r.level} ${r.msg}`), [
    'warn service "web": cannot accept a connection on 127.0.0.1:0: too many open files (EMFILE), ignoring (raise LimitNOFILE= or ulimit -n)',
    'error service "web": cannot accept a connection on 127.0.0.1:0: operation not permitted (EPERM), ignoring',
  ]);
  const client = await connect(t, { host: '127.0.0.1', port });
  const reply = readAll(client);
  client.end('still serving');
  assert.equal((await reply).toString(), 'still serving');
});

test('out of file descriptors (RLIMIT_NOFILE): clients are refused as fd_limit, the daemon survives and recovers', { timeout: 60_000 }, async (t) => {
  // A child with a small fd limit holds connections until the parent says "ready"; with every fd
  // taken by held clients, their upstream connects fail with EMFILE.
  const upstream = await startUpstream(t, echo);
  const upstreamPort = upstream.endpoint.kind === 'tcp' ? upstream.endpoint.port : 0;
  const frontendUrl = new URL('../../src/proxy/frontends/l4/frontend.ts', import.meta.url).href;
  const script = `
    const { Frontend } = await import(${JSON.stringify(frontendUrl)});
    const say = (line) => process.stdout.write(line + '\\n');
    const logger = { debug() {}, info() {}, warn: (_o, msg) => say('warn ' + msg), error: (_o, msg) => say('error ' + msg), child() { return logger; } };
    const lease = () => ({ upstream: { kind: 'tcp', host: '127.0.0.1', port: ${upstreamPort} }, revoked: false, onRevoke: undefined, bytesIn: 0, bytesOut: 0, release() {} });
    let ready = false;
    const waiters = [];
    const backend = {
      name: 'web',
      tryAcquire: () => (ready ? lease() : undefined),
      acquire: (signal) => new Promise((resolve, reject) => {
        waiters.push(resolve);
        signal.addEventListener('abort', () => reject(signal.reason));
      }),
      prepare: () => undefined,
      mayWake: () => true,
      setHeld: () => undefined,
      upstreamFailed: async () => undefined,
      refused: (reason) => say('refused ' + reason),
    };
    const frontend = new Frontend({ backend, listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0, text: 'local' }], maxConnections: 1000, maxPending: 1000, logger, native: ${JSON.stringify(nativeDataPath())} });
    await frontend.listen();
    process.stdin.on('data', () => {
      ready = true;
      for (const resolve of waiters.splice(0)) resolve(lease());
    });
    say('port ' + frontend.listening.addresses[0].port);
    setInterval(() => say('state ' + frontend.held + ' ' + frontend.open), 20);
  `;
  const child = spawn('/bin/sh', ['-c', 'ulimit -n 64 && exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  const lines: string[] = [];
  let partial = '';
  child.stdout.on('data', (c: Buffer) => {
    const parts = (partial + c.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
  });
  let exitCode: number | null | undefined;
  child.once('exit', (code) => {
    exitCode = code;
  });
  await waitFor('child listening', () => lines.some((l) => l.startsWith('port ')), 20_000);
  const port = Number(lines.find((l) => l.startsWith('port '))?.slice(5));
  const lastState = (): string => lines.findLast((l) => l.startsWith('state ')) ?? '';

  const clients: net.Socket[] = [];
  t.after(() => clients.forEach((c) => c.destroy()));
  const endings: Promise<string>[] = [];
  for (let i = 0; i < 100; i++) {
    const c = net.connect({ host: '127.0.0.1', port });
    c.on('error', () => undefined);
    endings.push(howItEnds(c));
    clients.push(c);
  }
  // The fd table fills up with held clients (libuv silently closes the ones it cannot accept).
  let previous = '';
  let since = Date.now();
  await waitFor('held count to settle', () => {
    const now = lastState();
    if (now !== previous) {
      previous = now;
      since = Date.now();
    }
    return now !== 'state 0 0' && Date.now() - since > 300;
  }, 20_000);
  child.stdin.write('ready\n');
  await waitFor('fd_limit refusals', () => lines.includes('refused fd_limit'), 10_000);
  // Clients accepted once descriptors freed up are forwarded and stay open: end them.
  for (const c of clients.splice(0)) c.end();
  await Promise.all(endings);
  await waitFor('all closed', () => lastState() === 'state 0 0', 10_000);
  const warnings = lines.filter((l) => l.startsWith('warn '));
  // Node's listener hides EMFILE on accept (it closes what it cannot take): the upstream connects
  // that find no descriptor are the refusals. The native listener reports the accept itself.
  assert.equal(warnings.length, 1, `rate-limited: ${warnings.join(' | ')}`);
  assert.match(warnings[0] ?? '', nativeDataPath() === undefined
    ? /^warn service "web": cannot connect to upstream 127\.0\.0\.1:\d+: too many open files \(EMFILE\), closing the client connection \(raise LimitNOFILE= or ulimit -n\)/
    : /^warn service "web": cannot accept a connection on local: too many open files \(EMFILE\), ignoring \(raise LimitNOFILE= or ulimit -n\)/);

  // Descriptors are free again: a new client is served end to end.
  const client = await connect(t, { host: '127.0.0.1', port });
  const reply = readAll(client);
  client.end('after the storm');
  assert.equal((await reply).toString(), 'after the storm');
  assert.equal(exitCode, undefined);
});

test('wake filter: a connection the stopped service may not be woken by is closed at once, asking for no start; a ready service serves everyone', async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  backend.wakes = (r) => r.source.replace(/^::ffff:/, '') !== '127.0.0.2';
  const { frontend, port } = await startFrontend(t, backend, { wakeFiltered: true });

  const denied = await connect(t, { host: '127.0.0.1', port, localAddress: '127.0.0.2' });
  assert.match(await howItEnds(denied), /^(end|ECONNRESET|close)$/);
  await waitFor('refused', () => backend.refusals.length === 1);
  assert.deepEqual(backend.refusals, ['wake_refused']);
  assert.deepEqual(backend.prepared, [], 'no start was asked for');
  assert.equal(backend.acquireCalls, 0);
  assert.equal(frontend.held, 0);
  assert.equal(backend.wakeRequests[0]?.source.replace(/^::ffff:/, ''), '127.0.0.2');

  const allowed = await connect(t, { host: '127.0.0.1', port, localAddress: '127.0.0.1' });
  await waitFor('held', () => backend.waiting === 1);
  const reply = readAll(allowed);
  backend.becomeReady();
  allowed.end('woken');
  assert.equal((await reply).toString(), 'woken');

  // Ready: the filter is not asked; the source it would refuse is served.
  const asked = backend.wakeRequests.length;
  const later = await connect(t, { host: '127.0.0.1', port, localAddress: '127.0.0.2' });
  const laterReply = readAll(later);
  later.end('flows');
  assert.equal((await laterReply).toString(), 'flows');
  assert.equal(backend.wakeRequests.length, asked);
  assert.deepEqual(backend.refusals, ['wake_refused']);
});
