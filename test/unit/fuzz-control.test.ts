// Fuzzing the control input (fast-check, fixed seed) against a real daemon with the fake provider:
// random requests (methods, paths, headers, bodies) and raw garbage over its control socket, and
// reloads of mutated config files. The server never crashes and answers every request it can parse
// with a JSON error for 4xx; a rejected reload leaves exactly the running services and listeners.
// PORTWAKE_FUZZ_RUNS (default 150) and PORTWAKE_FUZZ_SEED (default 13) make a longer or other run.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { stringify } from 'yaml';
import { loadConfig } from '../../src/config/load.ts';
import { systemClock } from '../../src/core/clock.ts';
import { Daemon } from '../../src/daemon.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { recordingLogger, tempDir, type LogLine } from '../support/control-harness.ts';
import { freePort } from '../support/daemon-harness.ts';

interface Fixture {
  daemon: Daemon;
  provider: FakeProvider;
  logs: LogLine[];
  dir: string;
  file: string;
  control: string;
  /** Free loopback ports the services use (or may be moved to), and one held by somebody else. */
  ports: { a: number; b: number; c: number; spare1: number; spare2: number; busy: number };
  base: Record<string, unknown>;
}

/** A daemon (fake provider, real sockets) run from DIR/portwake.yaml with a control socket. */
async function startFixture(t: TestContext): Promise<Fixture> {
  const dir = await tempDir(t);
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => blocker.close(() => r())));
  const ports = {
    a: await freePort(), b: await freePort(), c: await freePort(), spare1: await freePort(), spare2: await freePort(),
    busy: (blocker.address() as net.AddressInfo).port,
  };
  const control = join(dir, 'control.sock');
  const base = {
    control: { listen: `unix:${control}` },
    'x-defaults': { startTimeout: '5s' },
    services: {
      a: { listen: `127.0.0.1:${ports.a}`, container: 'ca', idleTimeout: '10m' },
      b: { listen: [`127.0.0.1:${ports.b}`, `unix:${dir}/b.sock`], container: 'cb', ready: { http: '/healthz' } },
      c: { listen: `127.0.0.1:${ports.c}`, container: 'cc', ready: { delay: '10ms' }, maxConnections: 10 },
    },
  };
  const file = join(dir, 'portwake.yaml');
  await writeFile(file, stringify(base));
  const provider = new FakeProvider(systemClock);
  for (const name of ['ca', 'cb', 'cc', 'cd']) provider.add({ name });
  const logs: LogLine[] = [];
  const daemon = await Daemon.start({
    config: await loadConfig(file), configPath: file, logger: recordingLogger(logs), env: { PORTWAKE_NATIVE: 'off' },
    stopOnExit: false, graceMs: 0, exitIdleMs: undefined, provider, clock: systemClock,
  });
  t.after(() => daemon.shutdown('test end'));
  return { daemon, provider, logs, dir, file, control, ports, base };
}

// ---- a raw HTTP exchange over the control socket ----

interface RawReply {
  /** undefined: the server closed the connection without answering. */
  status: number | undefined;
  headers: Map<string, string>;
  body: string;
}

/** Sends bytes, reads one response (to its length, its last chunk, or an event stream's headers). */
function exchange(socketPath: string, bytes: Buffer, timeoutMs = 10_000): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const s = net.connect(socketPath);
    let data = Buffer.alloc(0);
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      s.destroy();
      resolve(parseReply(data));
    };
    const timer = setTimeout(() => {
      finished = true;
      s.destroy();
      reject(new Error(`no complete answer within ${timeoutMs}ms to ${JSON.stringify(bytes.toString('latin1').slice(0, 200))}; got ${JSON.stringify(data.toString('latin1').slice(0, 300))}`));
    }, timeoutMs);
    s.on('connect', () => s.end(bytes));
    s.on('error', () => finish()); // EPIPE/ECONNRESET once the server gave up on the request
    s.on('close', finish);
    s.on('data', (c: Buffer) => {
      data = Buffer.concat([data, c]);
      if (complete(data)) finish();
    });
  });
}

function complete(data: Buffer): boolean {
  const end = data.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const head = parseReply(data);
  if (head.headers.get('content-type')?.startsWith('text/event-stream') === true) return true;
  const length = head.headers.get('content-length');
  if (length !== undefined) return data.length - end - 4 >= Number(length);
  if (head.headers.get('transfer-encoding') === 'chunked') return data.includes('\r\n0\r\n\r\n', end);
  return head.status === 304 || head.status === 204;
}

function parseReply(data: Buffer): RawReply {
  const text = data.toString('utf8');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return { status: undefined, headers: new Map(), body: text };
  const [statusLine = '', ...lines] = text.slice(0, end).split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) /.exec(statusLine);
  const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: m === null ? undefined : Number(m[1]), headers, body: text.slice(end + 4) };
}

describe('control input found by fuzzing', () => {
  it('an HTTP/1.1 request without Host is refused with a JSON error that says so (Node answered an empty 400)', async (t) => {
    const f = await startFixture(t);
    const reply = await exchange(f.control, Buffer.from('GET /status HTTP/1.1\r\nConnection: close\r\n\r\n'));
    assert.equal(reply.status, 400);
    assert.deepEqual(JSON.parse(reply.body), { error: { code: 'USAGE', message: 'an HTTP/1.1 request needs a Host header, e.g. "Host: localhost"' } });
    const old = await exchange(f.control, Buffer.from('GET /status HTTP/1.0\r\n\r\n'));
    assert.equal(old.status, 200, 'HTTP/1.0 has no Host header and needs none');
  });

  it('an unknown Expect is refused with a JSON error that says so (Node answered an empty 417)', async (t) => {
    const f = await startFixture(t);
    const reply = await exchange(f.control, Buffer.from('POST /reload HTTP/1.1\r\nHost: localhost\r\nExpect: keep-alive\r\nConnection: close\r\n\r\n'));
    assert.equal(reply.status, 417);
    assert.deepEqual(JSON.parse(reply.body), { error: { code: 'USAGE', message: 'unsupported "Expect: keep-alive"; the control API knows only 100-continue' } });
    assert.ok(!f.logs.some((l) => l.msg.startsWith('config reloaded')), 'the request was not carried out');
  });

  it('bytes that are not HTTP are answered with a 400 JSON error instead of a silent close', async (t) => {
    const f = await startFixture(t);
    const reply = await exchange(f.control, Buffer.from('\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', 'latin1'));
    assert.equal(reply.status, 400);
    const error = (JSON.parse(reply.body) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, 'USAGE');
    assert.match(error.message, /^malformed HTTP request: .+ \(HPE_[A-Z_]+\)$/);
  });

  it('oversized headers are answered with 431', async (t) => {
    const f = await startFixture(t);
    const reply = await exchange(f.control, Buffer.from(`GET /status HTTP/1.1\r\nHost: localhost\r\nX: ${'y'.repeat(20_000)}\r\n\r\n`));
    assert.equal(reply.status, 431);
    assert.deepEqual(JSON.parse(reply.body), { error: { code: 'USAGE', message: 'request headers too large' } });
  });
});
