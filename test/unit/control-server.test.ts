// The control API on real sockets against a fake DaemonControl: every route, errors, auth, the
// SSE stream's lifecycle, and the unix socket's permissions.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { spawn, spawnSync } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { describe, it, type TestContext } from 'node:test';
import { PortwakeError, ReadyTimeoutError } from '../../src/core/errors.ts';
import { parseControlAddress, type ControlTarget } from '../../src/control/address.ts';
import { startControlServer } from '../../src/control/server.ts';
import { FakeDaemonControl, service } from '../support/fake-daemon-control.ts';
import { http, json, recordingLogger, startHarness, tempDir } from '../support/control-harness.ts';

interface Stream { res: IncomingMessage; text(): string; waitFor(s: string): Promise<void>; close(): void }

function openStream(target: ControlTarget, path: string, headers: Record<string, string> = {}): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request({
      path, headers,
      ...(target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port }),
    }, (res) => {
      let text = '';
      const waiters: { s: string; resolve: () => void }[] = [];
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        text += c;
        for (const w of [...waiters]) if (text.includes(w.s)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
      });
      res.on('error', () => undefined);
      resolve({
        res,
        text: () => text,
        waitFor: (s) => text.includes(s) ? Promise.resolve() : new Promise((r) => waiters.push({ s, resolve: r })),
        close: () => req.destroy(),
      });
    });
    req.on('error', (err) => { if (!req.destroyed) reject(err); });
    req.end();
  });
}

async function until(what: string, cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('control API routes', () => {
  it('GET /status returns every service with nulls for unknown fields and recent starts', async (t) => {
    const control = new FakeDaemonControl([
      service('web', { state: 'ready', openConnections: 3, heldConnections: 1, bytesIn: 10, bytesOut: 20, lastActivity: 1000, idleDeadline: 5000,
        lastStart: { at: 900, containerStartMs: 300, readinessMs: 700, startedByUs: true } }),
      service('db', { state: 'failed', lastError: 'container "db" exited during start with code 1', lastErrorCode: 'CONTAINER_EXITED' }),
    ]);
    const h = await startHarness(t, { control });
    control.emit({ type: 'activated', service: 'web', timings: { at: 950, containerStartMs: 200, readinessMs: 400, startedByUs: true }, firstWaitMs: 650, at: 1550 });
    const reply = await http(h.target, 'GET', '/status');
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /application\/json/);
    const body = json<{ now: number; services: Record<string, unknown>[] }>(reply);
    assert.equal(typeof body.now, 'number');
    assert.deepEqual(body.services.map((s) => [s.name, s.state]), [['web', 'ready'], ['db', 'failed']]);
    const web = body.services[0] ?? {};
    assert.equal(web.openConnections, 3);
    assert.equal(web.heldConnections, 1);
    assert.equal(web.idleDeadline, 5000);
    assert.deepEqual(web.recentStarts, [{ at: 950, containerStartMs: 200, readinessMs: 400, firstWaitMs: 650 }]);
    const db = body.services[1] ?? {};
    assert.equal(db.lastErrorCode, 'CONTAINER_EXITED');
    assert.equal(db.lastActivity, null, 'undefined is sent as null, not dropped');
    assert.deepEqual(db.recentStarts, []);
  });

  it('POST /services/NAME/start and /stop call the daemon and answer with the new status', async (t) => {
    const h = await startHarness(t);
    const started = await http(h.target, 'POST', '/services/web/start');
    assert.equal(started.status, 200);
    const body = json<{ ok: boolean; action: string; status: { state: string } }>(started);
    assert.equal(body.ok, true);
    assert.equal(body.status.state, 'ready');
    const stopped = await http(h.target, 'POST', '/services/web/stop');
    assert.equal(stopped.status, 200);
    assert.deepEqual(h.control.calls, ['start web', 'stop web']);
  });

  it('answers unknown services 404, wrong methods 405, unknown routes 404', async (t) => {
    const h = await startHarness(t);
    const unknown = await http(h.target, 'POST', '/services/nope/start');
    assert.equal(unknown.status, 404);
    assert.match(json<{ error: { message: string } }>(unknown).error.message, /no service "nope" \(known: web, db\)/);
    const wrongMethod = await http(h.target, 'GET', '/services/web/start');
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.allow, 'POST');
    assert.equal((await http(h.target, 'POST', '/status')).status, 405);
    assert.equal((await http(h.target, 'GET', '/nothing')).status, 404);
    assert.deepEqual(h.control.calls, []);
  });

  it('reports a failed start as 502 with the error code and message', async (t) => {
    const h = await startHarness(t);
    h.control.startImpl = async () => { throw new ReadyTimeoutError('web-container', 60_000, 'connection refused'); };
    const reply = await http(h.target, 'POST', '/services/web/start');
    assert.equal(reply.status, 502);
    assert.deepEqual(json(reply), { error: { code: 'READY_TIMEOUT', message: 'container "web-container" not ready after 1m (last probe: connection refused)' } });
  });

  it('POST /reload returns the changes, or 400 with the config error text', async (t) => {
    const h = await startHarness(t);
    h.control.reloadImpl = async () => ({ added: ['api'], removed: [], changed: ['web'] });
    const ok = await http(h.target, 'POST', '/reload');
    assert.equal(ok.status, 200);
    assert.deepEqual(json(ok), { added: ['api'], removed: [], changed: ['web'] });
    h.control.reloadImpl = async () => { throw new PortwakeError('CONFIG_INVALID', '/etc/portwake.yaml: services.web.listen: expected HOST:PORT'); };
    const bad = await http(h.target, 'POST', '/reload');
    assert.equal(bad.status, 400);
    assert.deepEqual(json(bad), { error: { code: 'CONFIG_INVALID', message: '/etc/portwake.yaml: services.web.listen: expected HOST:PORT' } });
  });

  it('serves the dashboard with a CSP that pins its inline script and style', async (t) => {
    const h = await startHarness(t);
    const reply = await http(h.target, 'GET', '/');
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /text\/html/);
    const csp = String(reply.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    const script = /<script>([\s\S]*)<\/script>/.exec(reply.body)?.[1] ?? '';
    const hash = createHash('sha256').update(script).digest('base64');
    assert.ok(csp.includes(`'sha256-${hash}'`), 'the served script matches its CSP hash');
    assert.doesNotThrow(() => new Script(script, { filename: 'dashboard.js' }), 'the page script parses (no browser needed)');
    assert.doesNotMatch(reply.body, /https?:\/\/(?!www\.w3\.org)/, 'no external resources');
  });
});

describe('control API events', () => {
  it('streams events as SSE with heartbeats and unsubscribes when the client leaves', async (t) => {
    const h = await startHarness(t, { heartbeatMs: 20 });
    const baseline = h.control.listeners.size; // the server's own subscription (metrics, history)
    const stream = await openStream(h.target, '/events');
    assert.equal(stream.res.statusCode, 200);
    assert.match(String(stream.res.headers['content-type']), /text\/event-stream/);
    await until('subscription', () => h.control.listeners.size === baseline + 1);
    h.control.setState('web', 'starting', 1234);
    await stream.waitFor('event: state\ndata: {"type":"state","service":"web","from":"stopped","to":"starting","at":1234}\n\n');
    await stream.waitFor(': heartbeat\n\n');
    stream.close();
    await until('unsubscribe after disconnect', () => h.control.listeners.size === baseline);
  });

  it('close() ends open streams and drops every subscription', async (t) => {
    const h = await startHarness(t);
    const stream = await openStream(h.target, '/events');
    await until('subscription', () => h.control.listeners.size === 2);
    const ended = new Promise<void>((resolve) => stream.res.on('end', resolve));
    await h.server.close();
    await ended;
    assert.equal(h.control.listeners.size, 0);
  });

  it('refuses event streams beyond the limit with 503', async (t) => {
    const h = await startHarness(t, { maxEventStreams: 1 });
    const first = await openStream(h.target, '/events');
    t.after(() => first.close());
    const second = await http(h.target, 'GET', '/events');
    assert.equal(second.status, 503);
    assert.ok(h.logger.lines.some((l) => l.level === 'warn' && /event stream limit/.test(l.msg)));
  });
});

describe('control API auth', () => {
  const TOKEN = 's3cret-token';

  it('requires the bearer token on every route but the page itself', async (t) => {
    const h = await startHarness(t, { token: TOKEN });
    const missing = await http(h.target, 'GET', '/status');
    assert.equal(missing.status, 401);
    assert.match(String(missing.headers['www-authenticate']), /^Bearer/);
    assert.equal((await http(h.target, 'GET', '/status', { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await http(h.target, 'GET', '/status', { authorization: `Bearer ${TOKEN}x` })).status, 401);
    assert.equal((await http(h.target, 'GET', '/status', { authorization: `Bearer ${TOKEN}` })).status, 200);
    assert.equal((await http(h.target, 'GET', '/metrics')).status, 401);
    assert.equal((await http(h.target, 'POST', '/services/web/start')).status, 401);
    assert.equal((await http(h.target, 'POST', '/reload', { authorization: 'Basic abc' })).status, 401);
    assert.equal((await http(h.target, 'GET', '/')).status, 200, 'the dashboard page carries no data and asks for the token');
    assert.deepEqual(h.control.calls, []);
  });

  it('accepts ?token= for GET /events only', async (t) => {
    const h = await startHarness(t, { token: TOKEN });
    assert.equal((await http(h.target, 'GET', `/status?token=${TOKEN}`)).status, 401);
    assert.equal((await http(h.target, 'GET', '/events?token=wrong')).status, 401);
    const stream = await openStream(h.target, `/events?token=${TOKEN}`);
    t.after(() => stream.close());
    assert.equal(stream.res.statusCode, 200);
  });

  it('refuses to listen beyond loopback without a token', async () => {
    for (const host of ['0.0.0.0', '::', '192.0.2.10', 'example.internal']) {
      await assert.rejects(
        startControlServer({ config: { listen: { kind: 'tcp', host, port: 0 }, token: undefined }, control: new FakeDaemonControl(), logger: recordingLogger() }),
        (err: unknown) => err instanceof PortwakeError && err.code === 'CONFIG_INVALID' && /not a loopback address/.test(err.message),
      );
      await assert.rejects(
        startControlServer({ config: { listen: { kind: 'tcp', host, port: 0 }, token: '' }, control: new FakeDaemonControl(), logger: recordingLogger() }),
        /refusing to expose an unauthenticated control API/,
      );
    }
  });

  it('listens beyond loopback with a token, says so, and enforces it', async (t) => {
    const h = await startHarness(t, { listen: { kind: 'tcp', host: '0.0.0.0', port: 0 }, token: TOKEN });
    assert.ok(h.logger.lines.some((l) => l.level === 'warn' && /beyond loopback/.test(l.msg)));
    const target: ControlTarget = { kind: 'tcp', host: '127.0.0.1', port: h.target.kind === 'tcp' ? h.target.port : 0 };
    assert.equal((await http(target, 'GET', '/status')).status, 401);
    assert.equal((await http(target, 'GET', '/status', { authorization: `Bearer ${TOKEN}` })).status, 200);
  });

  it('refuses cross-origin POSTs and foreign Host names without a token', async (t) => {
    const h = await startHarness(t);
    const port = h.target.kind === 'tcp' ? h.target.port : 0;
    assert.equal((await http(h.target, 'POST', '/services/web/stop', { origin: 'https://evil.example' })).status, 403);
    assert.equal((await http(h.target, 'POST', '/services/web/stop', { origin: `http://127.0.0.1:${port}` })).status, 200);
    assert.equal((await http(h.target, 'GET', '/status', { host: `rebound.example:${port}` })).status, 403, 'DNS rebinding');
    assert.equal((await http(h.target, 'GET', '/status', { host: `localhost:${port}` })).status, 200);
    assert.deepEqual(h.control.calls, ['stop web']);
  });
});

/**
 * A live unix socket that never accepts: a stopped process's listener (backlog 1) whose accept
 * queue is full, so a connect to it fails with EAGAIN at once.
 */
async function busyUnixListener(t: TestContext, path: string): Promise<void> {
  const child = spawn(process.execPath, ['-e', `const s = require('node:net').createServer().listen({ path: ${JSON.stringify(path)}, backlog: 1 }, () => console.log('ok'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { child.kill('SIGKILL'); });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the busy listener's process exited (${code}) before listening`)));
  });
  process.kill(child.pid ?? 0, 'SIGSTOP');
  for (let i = 0; i < 16; i++) {
    const filler = connect({ path });
    t.after(() => filler.destroy());
    const full = await new Promise<boolean>((resolve) => {
      filler.once('connect', () => resolve(false));
      filler.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'EAGAIN'));
    });
    if (full) return;
  }
  throw new Error(`the accept queue of ${path} did not fill up after 16 connections`);
}

describe('control API token sources and state-changing requests', () => {
  const TOKEN = 'from-a-file';

  it('on TCP without a token (loopback included) refuses start, stop and reload, keeps reading open, and says how to allow them', async (t) => {
    const h = await startHarness(t, { insecureNoToken: false });
    for (const path of ['/services/web/start', '/services/web/stop', '/reload']) {
      const reply = await http(h.target, 'POST', path);
      assert.equal(reply.status, 403, `POST ${path}`);
      assert.match(reply.body, /needs a token on a TCP control address/);
      assert.match(reply.body, /control\.tokenFile.*PORTWAKE_TOKEN.*unix:.*insecureNoToken/);
    }
    assert.deepEqual(h.control.calls, [], 'nothing was started, stopped or reloaded');
    assert.equal((await http(h.target, 'GET', '/status')).status, 200, 'GET /status stays open');
    assert.equal((await http(h.target, 'GET', '/metrics')).status, 200);
    assert.ok(h.logger.lines.some((l) => l.level === 'warn' && /start, stop and reload are refused/.test(l.msg)));
  });

  it('with control.insecureNoToken: true lets them through, and warns', async (t) => {
    const h = await startHarness(t, { insecureNoToken: true });
    assert.equal((await http(h.target, 'POST', '/services/web/stop')).status, 200);
    assert.deepEqual(h.control.calls, ['stop web']);
    assert.ok(h.logger.lines.some((l) => l.level === 'warn' && /every local user can start, stop and reload/.test(l.msg)));
  });

  it('on a unix socket without a token lets them through (the socket\'s mode decides)', async (t) => {
    const path = join(await tempDir(t), 'c.sock');
    const h = await startHarness(t, { listen: { kind: 'unix', path, mode: 0o600 }, insecureNoToken: false });
    assert.equal((await http(h.target, 'POST', '/services/web/stop')).status, 200);
  });

  for (const [source, setup] of [
    ['control.tokenFile', async (dir: string) => {
      const file = join(dir, 'token');
      await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
      return { config: { tokenFile: file }, env: {} };
    }],
    ['the systemd credential portwake-token', async (dir: string) => {
      await writeFile(join(dir, 'portwake-token'), TOKEN, { mode: 0o600 });
      return { config: {}, env: { CREDENTIALS_DIRECTORY: dir } };
    }],
    ['PORTWAKE_TOKEN', async () => ({ config: {}, env: { PORTWAKE_TOKEN: TOKEN } })],
  ] as const) {
    it(`takes the token from ${source} and requires it`, async (t) => {
      const { config, env } = await setup(await tempDir(t));
      const control = new FakeDaemonControl();
      const server = await startControlServer({
        config: { listen: { kind: 'tcp', host: '127.0.0.1', port: 0 }, token: undefined, ...config },
        control, logger: recordingLogger(), defaultMetrics: false, env,
      });
      t.after(() => server.close());
      const target = parseControlAddress(server.address);
      assert.equal((await http(target, 'POST', '/services/web/stop')).status, 401);
      assert.equal((await http(target, 'GET', '/status')).status, 401);
      assert.equal((await http(target, 'POST', '/services/web/stop', { authorization: `Bearer ${TOKEN}` })).status, 200);
      assert.deepEqual(control.calls, ['stop web']);
    });
  }

  it('refuses to start when control.tokenFile cannot be read, naming the file', async (t) => {
    const file = join(await tempDir(t), 'missing');
    await assert.rejects(
      startControlServer({ config: { listen: { kind: 'tcp', host: '127.0.0.1', port: 0 }, token: undefined, tokenFile: file }, control: new FakeDaemonControl(), logger: recordingLogger() }),
      (err: unknown) => err instanceof PortwakeError && err.code === 'CONFIG_INVALID' && err.message.includes(`control.tokenFile ${file}: cannot read the token`),
    );
  });
});

describe('control API on a unix socket', () => {
  it('creates the socket with mode 0660 by default and serves over it', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'control.sock');
    const h = await startHarness(t, { listen: { kind: 'unix', path, mode: 0o660 } });
    assert.equal(h.server.address, `unix:${path}`);
    const info = await stat(path);
    assert.ok(info.isSocket());
    assert.equal(info.mode & 0o777, 0o660);
    assert.equal((await http(h.target, 'GET', '/status')).status, 200);
  });

  it('applies a configured mode', async (t) => {
    const path = join(await tempDir(t), 'c.sock');
    await startHarness(t, { listen: { kind: 'unix', path, mode: 0o600 } });
    assert.equal((await stat(path)).mode & 0o777, 0o600);
  });

  it('replaces a stale socket file but not a live one or a regular file', async (t) => {
    const dir = await tempDir(t);
    const stale = join(dir, 'stale.sock');
    // A crashed daemon: a process that bound the socket and was killed leaves the file behind.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    assert.ok((await stat(stale)).isSocket());
    await startHarness(t, { listen: { kind: 'unix', path: stale, mode: 0o660 } });

    const live = join(dir, 'live.sock');
    await startHarness(t, { listen: { kind: 'unix', path: live, mode: 0o660 } });
    await assert.rejects(
      startControlServer({ config: { listen: { kind: 'unix', path: live, mode: 0o660 }, token: undefined }, control: new FakeDaemonControl(), logger: recordingLogger() }),
      (err: unknown) => err instanceof PortwakeError && err.code === 'LISTEN_FAILED' && /already running/.test(err.message),
    );
    const file = join(dir, 'file');
    await writeFile(file, 'x');
    await assert.rejects(
      startControlServer({ config: { listen: { kind: 'unix', path: file, mode: 0o660 }, token: undefined }, control: new FakeDaemonControl(), logger: recordingLogger() }),
      /not a socket/,
    );
  });

  it('does not unlink a live socket whose accept queue is full (EAGAIN), and says it is in use', async (t) => {
    const path = join(await tempDir(t), 'busy.sock');
    await busyUnixListener(t, path);
    const before = await stat(path);
    await assert.rejects(
      // (Closed again should it start: it must not, but a test that fails must still end.)
      startControlServer({ config: { listen: { kind: 'unix', path, mode: 0o660 }, token: undefined }, control: new FakeDaemonControl(), logger: recordingLogger() })
        .then((server) => { t.after(() => server.close()); return server; }),
      (err: unknown) => err instanceof PortwakeError && err.code === 'LISTEN_FAILED' && /is in use by a running process \(is portwake already running\?\)/.test(err.message),
    );
    const after = await stat(path);
    assert.ok(after.isSocket());
    assert.equal(after.ino, before.ino, 'the live socket file is still the listener\'s');
  });
});
