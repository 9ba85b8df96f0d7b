// Readiness kinds, the stopping window, half-close and the failure paths, against the real engine.

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { connect, eventually, freePort, httpGet, isRunning, startDaemon, whenClosed } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';

let engine: Engine;
let busybox: string;

const running = (name: string): Promise<boolean> => isRunning(engine, name);

const serve = (prefix = ''): string[] => ['/bin/sh', '-c', `${prefix}exec httpd -f -p 80 -h /www`];

describe('readiness and failure paths against a real Docker engine', { timeout: 180_000 }, () => {
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  it('uses a container someone else already started, without starting it', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: serve(), expose: [80], nameHint: 'prestarted', start: true });
    t.after(() => c.remove());
    const port = await freePort();
    const { provider, daemon } = await startDaemon(t, engine, `services:\n  pre:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    assert.equal(provider.starts, 0);
    assert.equal(daemon.status()[0]?.lastStart?.startedByUs, false);
  });

  it('no file descriptor outlives its connection, and maxConnections refuses the one too many', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: serve(), expose: [80], nameHint: 'fds', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    const { events, daemon } = await startDaemon(t, engine, `services:\n  fds:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    maxConnections: 3\n`);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    await new Promise((r) => setTimeout(r, 200));
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const baseline = fds();
    const idle = (): Promise<void> => eventually('previous connections closed', () => daemon.status()[0]?.openConnections === 0, 10_000);
    for (let i = 0; i < 20; i++) {
      await idle(); // within maxConnections: the last batch's sockets may still be closing
      const batch = await Promise.all([0, 1, 2].map(() => httpGet({ host: '127.0.0.1', port })));
      assert.ok(batch.every((r) => r.status === 200));
    }
    await eventually('every descriptor of the 60 connections released', () => fds() === baseline, 10_000);
    // Three silent connections fill maxConnections; the fourth is refused, and logged as such.
    await idle();
    const open = await Promise.all([0, 1, 2].map(() => connect({ host: '127.0.0.1', port })));
    t.after(() => { for (const s of open) s.destroy(); });
    await new Promise((r) => setTimeout(r, 200));
    const fourth = await connect({ host: '127.0.0.1', port });
    await whenClosed(fourth);
    assert.ok(events.some((e) => e.type === 'refused' && e.reason === 'max_connections'));
  });

  it('ready: http waits for the expected status, not just a listening port', async (t) => {
    // Listens at once but answers 404 for /healthz until the file appears 1.5 s later.
    const c = await createContainer(engine, { image: busybox, cmd: serve('(sleep 1.5; echo ok > /www/healthz) & '), expose: [80], nameHint: 'http' });
    t.after(() => c.remove());
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, `services:\n  http:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    ready:\n      http: /healthz\n`);
    const res = await httpGet({ host: '127.0.0.1', port }, '/healthz');
    assert.equal(res.status, 200, 'forwarded only once /healthz answers 200');
    assert.ok((daemon.status()[0]?.lastStart?.readinessMs ?? 0) >= 1_000);
  });

  it('ready: health waits for Docker\'s HEALTHCHECK to report healthy', async (t) => {
    const c = await createContainer(engine, {
      image: busybox,
      cmd: serve('(sleep 1; touch /tmp/healthy) & '),
      expose: [80],
      nameHint: 'health',
      healthcheck: { test: ['CMD', '/bin/sh', '-c', 'test -f /tmp/healthy'], intervalMs: 300, timeoutMs: 1_000, retries: 30 },
    });
    t.after(() => c.remove());
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, `services:\n  health:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    ready: health\n`);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    const info = (await engine.docker.getContainer(c.name).inspect()) as unknown as { State: { Health: { Status: string } } };
    assert.equal(info.State.Health.Status, 'healthy');
    assert.ok((daemon.status()[0]?.lastStart?.readinessMs ?? 0) >= 900);
  });

  it('half-close: a client that shuts down its write side still receives the whole reply from the app', async (t) => {
    // The app reads until EOF, then answers with the byte count: only a propagated FIN gets a reply.
    const c = await createContainer(engine, {
      image: busybox,
      cmd: ['/bin/sh', '-c', 'exec nc -ll -p 80 -e /bin/sh -c "wc -c"'],
      expose: [80],
      nameHint: 'halfclose',
      stopSignal: 'SIGKILL',
    });
    t.after(() => c.remove());
    const port = await freePort();
    await startDaemon(t, engine, `services:\n  half:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const s = await connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    t.after(() => s.destroy());
    let reply = '';
    s.setEncoding('utf8').on('data', (d: string) => { reply += d; });
    const closed = whenClosed(s);
    s.end(Buffer.alloc(100_000, 120));
    await closed;
    assert.equal(reply.trim(), '100000');
  });

  it('a connection that arrives while the container is stopping is held and served by a fresh start', async (t) => {
    // PID 1 without a TERM handler ignores SIGTERM: the stop takes the whole 2 s grace period.
    const c = await createContainer(engine, { image: busybox, cmd: serve(), expose: [80], nameHint: 'stopping' });
    t.after(() => c.remove());
    const port = await freePort();
    const { daemon, provider } = await startDaemon(t, engine, `services:\n  stopping:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    idleTimeout: 500ms\n    stopTimeout: 2s\n`);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    await eventually('stopping', () => daemon.status()[0]?.state === 'stopping', 10_000);
    const res = await httpGet({ host: '127.0.0.1', port });
    assert.equal(res.status, 200, 'held through the stop, then served');
    assert.equal(provider.stops, 1);
    assert.equal(provider.starts, 2);
  });

  it('readiness timeout: held connections are closed promptly and the container portwake started is stopped again', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: ['/bin/sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait'], expose: [80], nameHint: 'never' });
    t.after(() => c.remove());
    const port = await freePort();
    const { events } = await startDaemon(t, engine, `services:\n  never:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    startTimeout: 2s\n    stopTimeout: 1s\n`);
    const s = await connect({ host: '127.0.0.1', port });
    const t0 = Date.now();
    await whenClosed(s);
    const waited = Date.now() - t0;
    assert.ok(waited >= 1_500 && waited < 10_000, `closed when the deadline passed (${waited} ms)`);
    const failed = events.find((e) => e.type === 'failed');
    assert.match(failed?.type === 'failed' ? failed.message : '', /service "never": container "pwtest-never-.*" not ready after 2s \(last probe: .*ECONNREFUSED/);
    await eventually('container stopped again', async () => !(await running(c.name)), 10_000);
  });

  it('an unreachable engine: held connections are closed promptly with a clear error', async (t) => {
    const port = await freePort();
    const { events } = await startDaemon(t, engine, `engine: unix:///nonexistent/docker.sock\nservices:\n  lost:\n    listen: 127.0.0.1:${port}\n    container: whatever\n    port: 80\n`, { useConfigEngine: true });
    const s = await connect({ host: '127.0.0.1', port });
    await whenClosed(s);
    const failed = events.find((e) => e.type === 'failed');
    assert.equal(failed?.type === 'failed' && failed.code, 'PROVIDER_UNREACHABLE');
    assert.match(failed?.type === 'failed' ? failed.message : '', /unix:\/\/\/nonexistent\/docker\.sock is unreachable/);
  });
});
