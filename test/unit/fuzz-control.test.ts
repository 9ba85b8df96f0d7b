// Fuzzing the control input (fast-check, fixed seed) against a real daemon with the fake provider:
// random requests (methods, paths, headers, bodies) and raw garbage over its control socket, and
// reloads of mutated config files. The server never crashes and answers every request it can parse
// with a JSON error for 4xx; a rejected reload leaves exactly the running services and listeners.
// PORTWAKE_FUZZ_RUNS (default 150) and PORTWAKE_FUZZ_SEED (default 13) make a longer or other run.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { ConfigError } from '../../src/config/errors.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';
import { systemClock } from '../../src/core/clock.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import type { ServiceStatus } from '../../src/core/status.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { recordingLogger, tempDir, type LogLine } from '../support/control-harness.ts';
import { eventually, freePort } from '../support/daemon-harness.ts';

const RUNS = Number(process.env['PORTWAKE_FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['PORTWAKE_FUZZ_SEED'] ?? 13);
const params = (scale = 1): fc.Parameters<unknown> => ({ seed: SEED, numRuns: Math.max(1, Math.round(RUNS * scale)), endOnFailure: true, includeErrorInReport: true });

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
  // Only the first response: a body the server took for a second request may have its own answer.
  const length = headers.get('content-length');
  const rest = data.subarray(Buffer.byteLength(text.slice(0, end + 4)));
  return { status: m === null ? undefined : Number(m[1]), headers, body: (length === undefined ? rest : rest.subarray(0, Number(length))).toString('utf8') };
}

// ---- what must hold after any input ----

const STATES = new Set(['stopped', 'starting', 'ready', 'stopping', 'failed']);

/** The shape of the running services that no request may change: names, containers, listeners. */
function shape(services: readonly ServiceStatus[]): Array<{ name: string; container: string; listeners: string[] }> {
  return services.map((s) => ({ name: s.name, container: s.container, listeners: [...s.listeners] }));
}

async function assertHealthy(f: Fixture, expected: ReturnType<typeof shape>): Promise<void> {
  const reply = await exchange(f.control, Buffer.from('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
  assert.equal(reply.status, 200, `GET /status still answers: ${reply.body}`);
  const body = JSON.parse(reply.body) as { services: ServiceStatus[] };
  assert.deepEqual(shape(body.services), expected, 'the running services are the same');
  for (const s of body.services) {
    assert.ok(STATES.has(s.state), `state ${s.state}`);
    assert.ok(s.openConnections >= 0 && s.heldConnections >= 0, 'connection counts are not negative');
  }
}

// ---- generators ----

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT', 'PROPFIND', 'get', 'G ET', 'PRI', ''];
const PATHS = ['/', '/index.html', '/status', '/metrics', '/events', '/reload', '/services/a/start', '/services/b/stop', '/services/nope/start',
  '/services/%ZZ/start', '/services/%2e%2e/stop', '/services//start', '/services/a/start/', '/services/a%2Fb/stop', '//status', '/status?x=1&token=t',
  '/status#frag', '*', 'http://localhost/status', 'http://evil.example/status', '/%00', '/../../etc/passwd', '/services/a/restart', '/STATUS', ''];
const HEADER_NAMES = ['Host', 'Origin', 'Authorization', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Content-Type', 'Accept', 'Upgrade', 'Expect', 'X-Forwarded-For', 'Cookie'];
const HEADER_VALUES = ['localhost', '127.0.0.1:1', 'evil.example', 'null', 'http://localhost', 'http://evil.example', 'Bearer x', 'Bearer', '0', '5', '-1',
  '99999999999999999999', 'chunked', 'gzip, chunked', 'close', 'keep-alive', 'upgrade', 'websocket', '100-continue', 'application/json', ''];

const token = fc.stringMatching(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,12}$/);
const header = fc.tuple(fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...HEADER_NAMES) }, token, fc.string({ maxLength: 10 })),
  fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...HEADER_VALUES) }, fc.string({ maxLength: 30 })));
const path = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...PATHS) },
  fc.tuple(fc.constantFrom(...PATHS), fc.string({ maxLength: 12 })).map(([p, x]) => p + x),
  fc.webPath(), fc.string({ maxLength: 40 }),
);
const body = fc.oneof(fc.constant(''), fc.json(), fc.string({ maxLength: 100 }), fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')));

/** An HTTP/1.x request: mostly well-formed lines with random contents, sometimes broken framing. */
const request = fc.record({
  method: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...METHODS) }, token),
  path,
  version: fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 x', ''),
  headers: fc.array(header, { maxLength: 6 }),
  host: fc.boolean(),
  body,
  eol: fc.constantFrom('\r\n', '\r\n', '\r\n', '\n'),
}).map((r) => {
  const lines = [`${r.method} ${r.path} ${r.version}`.trimEnd(), ...(r.host ? ['Host: localhost'] : []), ...r.headers.map(([k, v]) => `${k}: ${v}`)];
  return Buffer.from(`${lines.join(r.eol)}${r.eol}${r.eol}${r.body}`, 'latin1');
});

const garbage = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b)),
  fc.string({ minLength: 1, maxLength: 300 }).map((s) => Buffer.from(s)),
  fc.constantFrom('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', '\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03', 'GET / HTTP/1.1\r\nHost: localhost\r\n' + 'X: y\r\n'.repeat(3000) + '\r\n',
    `GET /${'a'.repeat(20_000)} HTTP/1.1\r\n\r\n`, 'POST /reload HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n').map((s) => Buffer.from(s, 'latin1')),
);

// ---- properties ----

describe('fuzz: the control API', () => {
  it('random requests: every parsed one is answered (4xx with a JSON error), the daemon keeps running, status keeps its shape', async (t) => {
    const f = await startFixture(t);
    const expected = shape(f.daemon.status());
    await fc.assert(fc.asyncProperty(request, async (bytes) => {
      const reply = await exchange(f.control, bytes);
      if (reply.status !== undefined && reply.status >= 400 && reply.status < 500 && !bytes.toString('latin1').startsWith('HEAD ')) {
        const error = (JSON.parse(reply.body) as { error?: { code?: unknown; message?: unknown } }).error;
        assert.equal(typeof error?.code, 'string', `a JSON error with a code: ${reply.body}`);
        assert.ok(typeof error?.message === 'string' && error.message.length > 0, `a JSON error with a message: ${reply.body}`);
      }
      assert.notEqual(reply.status, 500, `no internal error: ${reply.body}`);
      await assertHealthy(f, expected);
    }), params());
    assert.deepEqual(f.logs.filter((l) => l.level === 'error' && !l.msg.startsWith('reload rejected')), [], 'nothing logged as an error but rejected reloads');
  });

  it('raw garbage over the socket: answered with a 4xx JSON error (or closed, when incomplete), never a crash', async (t) => {
    const f = await startFixture(t);
    const expected = shape(f.daemon.status());
    let answered = 0;
    let closed = 0;
    await fc.assert(fc.asyncProperty(garbage, async (bytes) => {
      const reply = await exchange(f.control, bytes);
      if (reply.status === undefined) closed++;
      else if (reply.status >= 400) {
        answered++;
        assert.ok(reply.status < 500, `status ${reply.status}: ${reply.body}`);
        const error = (JSON.parse(reply.body) as { error?: { code?: unknown; message?: unknown } }).error;
        assert.ok(typeof error?.message === 'string' && error.message.length > 0, `a JSON error with a message: ${reply.body}`);
      }
      await assertHealthy(f, expected);
    }), params(0.5));
    t.diagnostic(`${answered} refused with a JSON error, ${closed} closed without an answer (an incomplete request at end of input)`);
  });
});

// ---- reload ----

/** Edits of the base config: values of the right kind and the wrong kind, addresses free, taken and impossible. */
function reloadEdits(f: Fixture): fc.Arbitrary<Record<string, unknown>> {
  const { ports, dir } = f;
  const listen = fc.constantFrom(
    `127.0.0.1:${ports.a}`, `127.0.0.1:${ports.b}`, `127.0.0.1:${ports.spare1}`, `127.0.0.1:${ports.spare2}`, `127.0.0.1:${ports.busy}`,
    [`127.0.0.1:${ports.spare1}`, `127.0.0.1:${ports.busy}`], [`127.0.0.1:${ports.spare2}`, `127.0.0.1:${ports.spare2}`],
    `unix:${dir}/new.sock`, `unix:${dir}/b.sock`, `unix:${dir}/missing/x.sock`, `unix:${dir}/portwake.yaml`, 'systemd', 'systemd:web', `127.0.0.1:0`, '', 80,
  );
  const value = fc.oneof(
    fc.constantFrom('1s', '10m', 'never', '0s', '-1s', '597h', 'ten', 5, 0, -1, null, true, [], {}, 'tcp', 'health', { http: '/x' }, { delay: '1s' }, { http: { status: '999' } }),
    fc.string({ maxLength: 8 }),
  );
  const key = fc.constantFrom('listen', 'container', 'port', 'upstream', 'ready', 'startTimeout', 'idleTimeout', 'stopTimeout', 'maxConnections', 'maxPending', 'socketMode', 'bogus');
  const name = fc.constantFrom('a', 'b', 'c', 'd', 'bad name', '');
  type Edit = (services: Record<string, Record<string, unknown>>) => void;
  const edit: fc.Arbitrary<Edit> = fc.oneof(
    fc.tuple(name, listen).map(([n, l]): Edit => (s) => { s[n] = { ...s[n], listen: l }; }),
    fc.tuple(name, key, value).map(([n, k, v]): Edit => (s) => { s[n] = { ...s[n], [k]: v }; }),
    fc.tuple(name, fc.constantFrom('ca', 'cb', 'cd', 'no such', '')).map(([n, c]): Edit => (s) => { s[n] = { listen: `127.0.0.1:${ports.spare1}`, ...s[n], container: c }; }),
    name.map((n): Edit => (s) => { delete s[n]; }),
    fc.tuple(name, name).map(([from, to]): Edit => (s) => { if (s[from] !== undefined) { s[to] = s[from]; delete s[from]; } }),
  );
  return fc.tuple(fc.array(edit, { minLength: 1, maxLength: 4 }), fc.option(fc.constantFrom('control', 'engine'), { nil: undefined })).map(([edits, top]) => {
    const root = structuredClone(f.base) as { services: Record<string, Record<string, unknown>> } & Record<string, unknown>;
    for (const e of edits) e(root.services);
    if (top === 'control') root['control'] = { listen: `unix:${dir}/other.sock` };
    if (top === 'engine') root['engine'] = 'unix:///nonexistent/docker.sock';
    return root;
  });
}

/** Only loopback ports of this test and sockets in its directory may ever be bound. */
function safe(f: Fixture, config: PortwakeConfig): boolean {
  const ports = new Set(Object.values(f.ports));
  return config.services.every((s) => s.listen.every((l) =>
    l.kind === 'systemd' || (l.kind === 'unix' && l.path.startsWith(`${f.dir}/`)) || (l.kind === 'tcp' && l.host === '127.0.0.1' && ports.has(l.port))));
}

/** Whether 127.0.0.1:port can be bound right now (nobody holds it). */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

describe('fuzz: reload with mutated config files', () => {
  it('a rejected reload leaves exactly the running services and listeners; an accepted one applies all of it', { timeout: 120_000 }, async (t) => {
    const f = await startFixture(t);
    await f.daemon.start('a'); // one service ready, so that a rejected reload must not disturb a running one either
    const original = shape(f.daemon.status());
    const baseText = stringify(f.base);
    let rejected = 0;
    let accepted = 0;
    await fc.assert(fc.asyncProperty(reloadEdits(f), async (root) => {
      const text = stringify(root);
      let parsed: PortwakeConfig | undefined;
      try {
        parsed = parseConfig(text, f.file);
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
      }
      if (parsed !== undefined && !safe(f, parsed)) return; // would bind beyond this test's addresses
      const before = shape(f.daemon.status());
      const fds = openFds();
      await writeFile(f.file, text);
      let outcome: 'applied' | PortwakeError;
      try {
        await f.daemon.reload();
        outcome = 'applied';
      } catch (err) {
        assert.ok(err instanceof PortwakeError, `a PortwakeError: ${String(err)}`);
        assert.ok(err.message.length > 0);
        outcome = err;
      }
      if (outcome === 'applied') {
        accepted++;
        assert.ok(parsed !== undefined, 'only a valid file is applied');
        assert.deepEqual(f.daemon.status().map((s) => s.name).sort(), parsed.services.map((s) => s.name).sort(), 'every service of the file runs');
        for (const s of f.daemon.status()) {
          const want: PortwakeConfig['services'][number] | undefined = parsed.services.find((p) => p.name === s.name);
          assert.equal(s.container, want?.container);
        }
        await writeFile(f.file, baseText);
        await f.daemon.reload();
        assert.deepEqual(shape(f.daemon.status()), original, 'reloading the base file brings the base services back');
        // A retired service's listeners close in the background, a moment after reload() resolved.
        await eventually('the spare ports are free again', async () => (await bindable(f.ports.spare1)) && (await bindable(f.ports.spare2)));
      } else {
        rejected++;
        assert.deepEqual(shape(f.daemon.status()), before, `after "${outcome.message}" the running services are the same`);
        assert.equal(openFds(), fds, `after "${outcome.message}" no listener was left open or lost`);
        for (const port of [f.ports.spare1, f.ports.spare2]) {
          if (!before.some((s) => s.listeners.some((l) => l.endsWith(`:${port}`)))) assert.ok(await bindable(port), `port ${port} not left bound by a rejected reload`);
        }
      }
      await assertHealthy(f, shape(f.daemon.status()));
    }), params(0.5));
    t.diagnostic(`${accepted} reloads applied, ${rejected} rejected`);
    assert.ok(rejected > 0 && accepted > 0, `both outcomes exercised (${accepted} applied, ${rejected} rejected)`);
  });
});

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
