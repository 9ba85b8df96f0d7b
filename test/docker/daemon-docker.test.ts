// portwake end to end against the real Docker engine: cold start of a stopped container, the
// published-port trap, single flight, idle stop, outside stops, failures, listeners of every kind.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';
import { connect, eventually, freePort, freePorts, httpdCmd, httpGet, isRunning, startDaemon, whenClosed } from '../support/daemon-harness.ts';
import { stuckUpstream } from '../support/stuck-upstream.ts';

let engine: Engine;
let busybox: string;

const httpd = (delayS = 0, before = ''): string[] => httpdCmd({ delayS, before });

const running = (name: string): Promise<boolean> => isRunning(engine, name);

describe('portwake against a real Docker engine', { timeout: 180_000 }, () => {
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  it('starts nothing until needed, then answers the first request from the stopped container', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: httpd(), expose: [80], nameHint: 'cold' });
    t.after(() => c.remove());
    const port = await freePort();
    const { provider, events } = await startDaemon(t, engine, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await running(c.name), false, 'portwake run starts no container');
    const res = await httpGet({ host: '127.0.0.1', port });
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /^hello-from-/);
    assert.equal(await running(c.name), true);
    const again = await httpGet({ host: '127.0.0.1', port });
    assert.equal(again.status, 200);
    assert.equal(provider.starts, 1);
    assert.equal(events.filter((e) => e.type === 'activated').length, 1);
  });

  it('is not fooled by a published port that accepts before the app listens (upstream: the published port, and the default)', async (t) => {
    for (const useUpstream of [true, false]) {
      const hostPort = await freePort();
      const c = await createContainer(engine, { image: busybox, cmd: httpd(2), publish: [{ containerPort: 80, hostPort }], nameHint: 'late' });
      t.after(() => c.remove());
      const port = await freePort();
      const upstream = useUpstream ? `\n    upstream: 127.0.0.1:${hostPort}` : '';
      await startDaemon(t, engine, `services:\n  late:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}${upstream}\n`);
      const t0 = Date.now();
      const res = await httpGet({ host: '127.0.0.1', port });
      assert.equal(res.status, 200, 'the held first request is answered, not reset');
      assert.ok(Date.now() - t0 >= 1_900, 'it was really held until the app listened');
    }
  });

  it('single flight: 200 connections at once to a stopped container cause exactly one start and are all served', async (t) => {
    // nginx, not busybox httpd: the app must accept 200 connections at once (busybox listens with a
    // backlog of 9, and dropped SYNs are retried by the kernel only after seconds).
    const c = await createContainer(engine, { image: await ensureImage('nginx'), expose: [80], nameHint: 'herd' });
    t.after(() => c.remove());
    const port = await freePort();
    const { provider } = await startDaemon(t, engine, `services:\n  herd:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const results = await Promise.all(Array.from({ length: 200 }, () => httpGet({ host: '127.0.0.1', port })));
    assert.equal(results.filter((r) => r.status === 200).length, 200);
    assert.equal(provider.startRequests, 1, 'exactly one start request to the engine');
    assert.equal(provider.starts, 1);
  });

  it('forwards large transfers intact (64 MiB through the container)', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: httpd(0, 'dd if=/dev/urandom of=/www/big bs=1048576 count=64 2>/dev/null; '), expose: [80], nameHint: 'big' });
    t.after(() => c.remove());
    const port = await freePort();
    const { events } = await startDaemon(t, engine, `services:\n  big:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const viaPortwake = await httpGet({ host: '127.0.0.1', port }, '/big');
    await eventually('the connection closed', () => events.some((e) => e.type === 'connection' && e.change === 'close'));
    assert.ok(events.some((e) => e.type === 'connection' && e.change === 'close' && e.spliced === true), 'the download went through the zero-copy splice pump');
    const info = (await engine.docker.getContainer(c.name).inspect()) as unknown as { NetworkSettings: { IPAddress: string } };
    const direct = await httpGet({ host: info.NetworkSettings.IPAddress, port: 80 }, '/big');
    assert.equal(viaPortwake.body.length, 64 * 1024 * 1024);
    const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    assert.equal(sha(viaPortwake.body), sha(direct.body));
  });

  it('uploads through the splice pump with half-close (64 MiB into the container, its sha256 back)', async (t) => {
    // busybox nc hands each connection to sha256sum: it reads to EOF (the client's FIN, passed on
    // by the pump) and answers with the digest over the other, still open, direction.
    const c = await createContainer(engine, { image: busybox, cmd: ['nc', '-ll', '-p', '80', '-e', 'sha256sum'], expose: [80], nameHint: 'sink' });
    t.after(() => c.remove());
    const port = await freePort();
    const { events } = await startDaemon(t, engine, `services:\n  sink:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const data = randomBytes(64 * 1024 * 1024);
    const socket = await connect({ host: '127.0.0.1', port });
    t.after(() => socket.destroy());
    const chunks: Buffer[] = [];
    socket.on('data', (b: Buffer) => chunks.push(b));
    const closed = whenClosed(socket);
    socket.end(data);
    assert.equal((await closed).how, 'end');
    assert.equal(Buffer.concat(chunks).toString().split(/\s/)[0], createHash('sha256').update(data).digest('hex'));
    await eventually('the connection closed', () => events.some((e) => e.type === 'connection' && e.change === 'close'));
    assert.ok(events.some((e) => e.type === 'connection' && e.change === 'close' && e.spliced === true), 'the upload went through the zero-copy splice pump');
  });

  it('stops the container after idleTimeout; an open silent connection keeps it running; the next connection starts it again', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: httpd(), expose: [80], nameHint: 'idle' });
    t.after(() => c.remove());
    const port = await freePort();
    const { provider } = await startDaemon(t, engine, `services:\n  idle:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    idleTimeout: 1s\n    stopTimeout: 1s\n`);
    const silent = await connect({ host: '127.0.0.1', port });
    t.after(() => silent.destroy());
    await eventually('container running', () => running(c.name));
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(await running(c.name), true, 'a silent open connection keeps it running');
    silent.destroy();
    await eventually('container stopped after idleTimeout', async () => !(await running(c.name)));
    assert.equal(provider.stops, 1);
    const res = await httpGet({ host: '127.0.0.1', port });
    assert.equal(res.status, 200);
    assert.equal(provider.starts, 2);
  });

  it('a container stopped by someone else closes its connections; the next connection starts it again', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: httpd(), expose: [80], nameHint: 'outside', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    const { provider } = await startDaemon(t, engine, `services:\n  outside:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const s = await connect({ host: '127.0.0.1', port });
    t.after(() => s.destroy());
    await eventually('container running', () => running(c.name));
    await new Promise((r) => setTimeout(r, 200));
    const closed = whenClosed(s);
    await engine.docker.getContainer(c.name).stop({ t: 0 });
    const how = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
    assert.ok(how !== undefined, 'the open connection is closed when the container stops underneath');
    const res = await httpGet({ host: '127.0.0.1', port });
    assert.equal(res.status, 200);
    assert.equal(provider.starts, 2);
  });

  it('a connection still connecting when the container is stopped from outside is held and starts it again, not reset', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: httpd(), expose: [80], nameHint: 'midconnect', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    // Readiness probes the container's own address; the data goes to an upstream whose connects
    // hang, so the connection is still connecting when the container goes away.
    const stuck = await stuckUpstream(t);
    const port = await freePort();
    const { provider, daemon } = await startDaemon(t, engine, `services:\n  mid:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    upstream: 127.0.0.1:${stuck.port}\n`);
    const s = await connect({ host: '127.0.0.1', port });
    t.after(() => s.destroy());
    let closed: string | undefined;
    void whenClosed(s).then((e) => { closed = e.how; });
    // Ready and forwarded: its lease is open and its connect to the stuck upstream pends.
    await eventually('forwarded', () => daemon.status()[0]?.state === 'ready' && daemon.status()[0]?.openConnections === 1);
    await engine.docker.getContainer(c.name).stop({ t: 0 });
    await eventually('started again for the connection handed back', () => provider.starts === 2);
    assert.equal(closed, undefined, 'the client was held again, not reset');
    assert.ok(await running(c.name));
  });

  it('failures are prompt and contained: missing container, exit during start; other services keep serving', async (t) => {
    const good = await createContainer(engine, { image: busybox, cmd: httpd(), expose: [80], nameHint: 'good' });
    const crash = await createContainer(engine, { image: busybox, cmd: ['/bin/sh', '-c', 'sleep 0.3; exit 3'], expose: [80], nameHint: 'crash' });
    t.after(() => good.remove());
    t.after(() => crash.remove());
    const [p1, p2, p3] = await freePorts(3);
    const { events } = await startDaemon(t, engine, [
      'services:',
      `  missing:\n    listen: 127.0.0.1:${p1}\n    container: pwtest-does-not-exist\n    port: 80`,
      `  crash:\n    listen: 127.0.0.1:${p2}\n    container: ${crash.name}`,
      `  good:\n    listen: 127.0.0.1:${p3}\n    container: ${good.name}`,
    ].join('\n') + '\n');
    for (const port of [p1, p2]) {
      const s = await connect({ host: '127.0.0.1', port });
      s.write('GET / HTTP/1.0\r\n\r\n');
      const t0 = Date.now();
      await whenClosed(s);
      assert.ok(Date.now() - t0 < 15_000, 'the held connection is closed promptly, not left hanging');
    }
    const failed = events.filter((e) => e.type === 'failed');
    assert.deepEqual(failed.map((e) => e.type === 'failed' && e.code).sort(), ['CONTAINER_EXITED', 'CONTAINER_NOT_FOUND']);
    const crashMsg = failed.find((e) => e.type === 'failed' && e.service === 'crash');
    assert.match(crashMsg?.type === 'failed' ? crashMsg.message : '', /service "crash": container "pwtest-crash-.*" exited during start with code 3/);
    assert.equal((await httpGet({ host: '127.0.0.1', port: p3 })).status, 200);
    // The next connection tries again (and fails again, promptly).
    const s = await connect({ host: '127.0.0.1', port: p1 });
    await whenClosed(s);
    assert.equal(events.filter((e) => e.type === 'failed' && e.service === 'missing').length, 2);
  });

  it('listens on [::1], on every address (dual stack) and on a unix socket', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: httpd(), expose: [80], nameHint: 'listen' });
    t.after(() => c.remove());
    const dir = mkdtempSync(join(tmpdir(), 'pw-unix-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const [p6, pAll] = [await freePort('::1'), await freePort('::')];
    const sock = join(dir, 'web.sock');
    await startDaemon(t, engine, `services:\n  multi:\n    listen: ["[::1]:${p6}", "${pAll}", "unix:${sock}"]\n    socketMode: "0660"\n    container: ${c.name}\n`);
    assert.equal((await httpGet({ host: '::1', port: p6 })).status, 200);
    assert.equal((await httpGet({ host: '127.0.0.1', port: pAll })).status, 200);
    assert.equal((await httpGet({ host: '::1', port: pAll })).status, 200);
    assert.equal((await httpGet({ socketPath: sock })).status, 200);
  });

  it('over maxPending, new connections are refused while the start is in flight', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: httpd(2), expose: [80], nameHint: 'limit' });
    t.after(() => c.remove());
    const port = await freePort();
    const { events } = await startDaemon(t, engine, `services:\n  limit:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    maxPending: 2\n`);
    const held = [httpGet({ host: '127.0.0.1', port }), httpGet({ host: '127.0.0.1', port })];
    await eventually('two held', () => events.some((e) => e.type === 'state' && e.to === 'starting'));
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(httpGet({ host: '127.0.0.1', port }), 'the third is refused');
    assert.ok(events.some((e) => e.type === 'refused' && e.reason === 'max_pending'));
    for (const r of await Promise.all(held)) assert.equal(r.status, 200);
  });

  it('--stop-on-exit stops on shutdown the containers portwake started', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: httpd(), expose: [80], nameHint: 'exit', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, `services:\n  exit:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    stopTimeout: 1s\n`, { stopOnExit: true });
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    await daemon.shutdown('test');
    assert.equal(await running(c.name), false);
    await assert.rejects(httpGet({ host: '127.0.0.1', port }), 'no longer accepting');
  });
});
