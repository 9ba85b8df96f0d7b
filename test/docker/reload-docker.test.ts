// Reloading a running daemon against the real engine, through POST /reload and through SIGHUP to
// the CLI: added services listen, removed ones stop listening and drain, changed ones apply (on the
// same address), unchanged ones keep their open transfers, and a bad file changes nothing. A reload
// keeps the listening socket of an unchanged address (no connection refused) and applies timeouts and
// limits in place (no open connection cut); only a new container or upstream drains and then cuts.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import type { ReloadResult, ServiceStatus } from '../../src/core/status.ts';
import { startCliDaemon, type LogRecord } from '../support/cli-child.ts';
import { http, json, type Reply } from '../support/control-harness.ts';
import { eventually, freePort, freePorts, httpdContainer, httpGet, isRunning } from '../support/daemon-harness.ts';
import { ensureImage, getEngine, type Engine, type TestContainer } from '../support/engine.ts';
import { scratchDir, startFileDaemon, type FileDaemon } from '../support/file-daemon.ts';
import { slowDownload } from '../support/slow-download.ts';

let engine: Engine;
let busybox: string;

const BIG = 64 * 1024 * 1024;



const running = (name: string): Promise<boolean> => isRunning(engine, name);

const server = (t: TestContext, hint: string, big = false): Promise<TestContainer> => httpdContainer(t, engine, busybox, hint, big);

/** Whether something accepts TCP connections on 127.0.0.1:port (a connection may start a container). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

interface Svc { container: string; listen: string; extra?: string }

function yaml(services: Record<string, Svc>, control?: string): string {
  const head = control === undefined ? '' : `control:\n  listen: unix:${control}\n`;
  return head + 'services:\n' + Object.entries(services)
    .map(([name, s]) => `  ${name}:\n    listen: ${s.listen}\n    container: ${s.container}\n    stopTimeout: 1s\n${s.extra ?? ''}`).join('');
}

interface Reloadable extends FileDaemon {
  control: string;
  reload(): Promise<Reply>;
  status(): Promise<ServiceStatus[]>;
  /** Rewrites the config with these services (same control socket). */
  rewrite(services: Record<string, Svc>): Promise<void>;
}

async function reloadable(t: TestContext, services: Record<string, Svc>, o: { graceMs?: number; stopOnExit?: boolean } = {}): Promise<Reloadable> {
  const dir = await scratchDir(t, 'pw-reload-');
  const control = join(dir, 'control.sock');
  const d = await startFileDaemon(t, engine, dir, yaml(services, control), o);
  return {
    ...d,
    control,
    reload: () => http({ kind: 'unix', path: control }, 'POST', '/reload'),
    async status() {
      const r = await http({ kind: 'unix', path: control }, 'GET', '/status');
      return json<{ services: ServiceStatus[] }>(r).services;
    },
    rewrite: (s) => d.write(yaml(s, control)),
  };
}

/** A daemon serving one service "web" on a fresh port in front of a new container, answered once. */
async function servingWeb(t: TestContext, hint: string): Promise<{ c: Awaited<ReturnType<typeof server>>; port: number; web: Svc; d: Reloadable }> {
  const c = await server(t, hint);
  const port = await freePort();
  const web: Svc = { container: c.name, listen: `127.0.0.1:${port}` };
  const d = await reloadable(t, { web });
  assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
  return { c, port, web, d };
}

describe('reloading a running daemon against a real Docker engine', { timeout: 300_000 }, () => {
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  it('POST /reload: added listens, removed stops listening and drains, changed applies on the same address, unchanged keeps its transfer', { timeout: 120_000 }, async (t) => {
    const [keepC, goneC, tweakC, newC] = [await server(t, 'rl-keep', true), await server(t, 'rl-gone', true), await server(t, 'rl-tweak'), await server(t, 'rl-new')];
    const [pKeep, pGone, pTweak, pNew] = await freePorts(4);
    const keep: Svc = { container: keepC.name, listen: `127.0.0.1:${pKeep}` };
    const gone: Svc = { container: goneC.name, listen: `127.0.0.1:${pGone}` };
    const tweak: Svc = { container: tweakC.name, listen: `127.0.0.1:${pTweak}` };
    const d = await reloadable(t, { keep, gone, tweak }, { graceMs: 60_000 });

    const keepDl = await slowDownload(t, { host: '127.0.0.1', port: pKeep }, '/big', { startedAfterBytes: 256 * 1024 });
    const goneDl = await slowDownload(t, { host: '127.0.0.1', port: pGone }, '/big', { startedAfterBytes: 256 * 1024 });
    assert.equal((await httpGet({ host: '127.0.0.1', port: pTweak })).status, 200);
    assert.equal(d.provider.starts, 3);

    await d.rewrite({ keep, tweak: { ...tweak, extra: '    idleTimeout: 1s\n' }, added: { container: newC.name, listen: `127.0.0.1:${pNew}` } });
    const r = await d.reload();
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(json<ReloadResult>(r), { added: ['added'], removed: ['gone'], changed: ['tweak'] });

    // Added: listening, and it starts its container on demand.
    assert.equal((await httpGet({ host: '127.0.0.1', port: pNew })).status, 200);
    // Removed: no longer accepting; its open download carries on.
    assert.equal(await accepts(pGone), false, 'the removed service stopped listening');
    // Changed: re-bound on the same address, and the new idleTimeout applies.
    assert.equal((await httpGet({ host: '127.0.0.1', port: pTweak })).status, 200);
    await eventually('tweak stopped after its new idleTimeout', async () => !(await running(tweakC.name)), 15_000);
    assert.equal((await httpGet({ host: '127.0.0.1', port: pTweak })).status, 200, 'and started again on demand');

    const names = (await d.status()).map((s) => s.name).sort();
    assert.deepEqual(names, ['added', 'keep', 'tweak']);
    const keepStatus = (await d.status()).find((s) => s.name === 'keep');
    assert.equal(keepStatus?.openConnections, 1, 'the unchanged service still counts its open connection');

    keepDl.fast();
    goneDl.fast();
    const [keepEnd, goneEnd] = [await keepDl.done, await goneDl.done];
    assert.equal(keepEnd.complete, true, `the unchanged service's transfer survived the reload (${keepEnd.bytes}/${BIG}, ${keepEnd.how})`);
    assert.equal(goneEnd.complete, true, `the removed service's transfer drained (${goneEnd.bytes}/${BIG}, ${goneEnd.how})`);
    // tweak's new idleTimeout (1s) may stop it again while the added service starts: count per service.
    const startsOf = (name: string): number => d.logs.filter((l) => l.msg.startsWith(`service "${name}": started container`)).length;
    assert.deepEqual([startsOf('keep'), startsOf('gone'), startsOf('added')], [1, 1, 1]);
    assert.ok(startsOf('tweak') >= 2, 'tweak was started again on demand after its idle stop');
  });

  it('POST /reload with a bad file: 400 with the FILE:LINE:COL errors, the running config stays in force', { timeout: 60_000 }, async (t) => {
    const { c, port, d } = await servingWeb(t, 'rl-bad');
    const good = await d.status();

    const p2 = await freePort();
    await d.write([
      `control:\n  listen: unix:${d.control}`,
      'services:',
      '  web:',
      `    listen: 127.0.0.1:${port}`,
      `    container: ${c.name}`,
      '    idleTimeout: soon',
      '  other:',
      `    listen: 127.0.0.1:${p2}`,
      `    contianer: ${c.name}`,
      '',
    ].join('\n'));
    const r = await d.reload();
    assert.equal(r.status, 400);
    const err = json<{ error: { code: string; message: string } }>(r).error;
    assert.equal(err.code, 'CONFIG_INVALID');
    const lines = err.message.split('\n');
    assert.equal(lines[0], 'portwake.yaml:7:18: services.web.idleTimeout: expected a duration like "10m", got "soon"');
    assert.ok(lines.some((l) => /^portwake\.yaml:10:5: services\.other\.contianer: unknown key; did you mean "container"\?$/.test(l)), err.message);

    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'the old listener still answers');
    assert.equal(await accepts(p2), false, 'nothing of the bad file was applied');
    const now = await d.status();
    assert.deepEqual(now.map((s) => [s.name, s.state, s.listeners]), good.map((s) => [s.name, s.state, s.listeners]));
  });

  // Five reloads in a row: the old listener's close must never remove the new listener's socket file
  // (a late unlink by inode did, about one reload in three, when the new socket reused the inode).
  it('a changed service on the same unix socket path is re-bound and keeps answering', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'rl-unix');
    const dir = await scratchDir(t, 'pw-reload-sock-');
    const sock = join(dir, 'web.sock');
    const web: Svc = { container: c.name, listen: `unix:${sock}` };
    const d = await reloadable(t, { web });
    assert.equal((await httpGet({ socketPath: sock })).status, 200);
    for (const idle of ['5m', '6m', '7m', '8m', '9m']) {
      await d.rewrite({ web: { ...web, extra: `    idleTimeout: ${idle}\n` } });
      const r = await d.reload();
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(json<ReloadResult>(r).changed, ['web']);
      // Give a late clean-up of the old listener the chance to remove the new socket file.
      await new Promise((res) => setTimeout(res, 100));
      assert.equal((await httpGet({ socketPath: sock }, '/', 10_000)).status, 200, `answers after the reload to idleTimeout ${idle}`);
    }
  });

  it('reloads that overlap are applied one after the other: none fails on an address the previous one bound, none leaves a listener behind', { timeout: 60_000 }, async (t) => {
    const { c, port: p1, web, d } = await servingWeb(t, 'rl-race');
    const dir = await scratchDir(t, 'pw-reload-race-');
    const sock = join(dir, 'extra.sock');
    // The unix listener's bind does file I/O, which opens a window for the next reload to start meanwhile.
    await d.rewrite({ web: { ...web, extra: '    idleTimeout: 5m\n' }, extra: { container: c.name, listen: `unix:${sock}` } });
    const replies = await Promise.all(Array.from({ length: 5 }, () => d.reload()));
    for (const r of replies) assert.equal(r.status, 200, r.body);
    const results = replies.map((r) => json<ReloadResult>(r));
    assert.deepEqual(results[0], { added: ['extra'], removed: [], changed: ['web'] });
    for (const r of results.slice(1)) assert.deepEqual(r, { added: [], removed: [], changed: [] }, 'the later reloads find nothing to change');
    assert.deepEqual((await d.status()).map((s) => s.name), ['web', 'extra']);
    assert.equal((await httpGet({ host: '127.0.0.1', port: p1 })).status, 200);
    assert.equal((await httpGet({ socketPath: sock })).status, 200);

    // Remove both: every listener they had must be gone (an orphaned one would still accept).
    await d.rewrite({ other: { container: c.name, listen: `127.0.0.1:${await freePort()}` } });
    assert.equal((await d.reload()).status, 200);
    assert.equal(await accepts(p1), false, 'no orphaned listener on the TCP address');
    await assert.rejects(httpGet({ socketPath: sock }, '/', 5_000), 'no orphaned listener on the unix socket');
  });

  it('a new address that cannot be bound rejects the reload and changes nothing', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'rl-inuse');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => blocker.close(() => r())));
    const taken = (blocker.address() as net.AddressInfo).port;
    const [p1, p2, p3] = await freePorts(3);
    const web: Svc = { container: c.name, listen: `127.0.0.1:${p1}` };
    const api: Svc = { container: c.name, listen: `127.0.0.1:${p2}` };
    const d = await reloadable(t, { web, api });
    const before = await d.status();
    // web moves to an address in use; api is removed; extra is added.
    await d.rewrite({ web: { ...web, listen: `127.0.0.1:${taken}` }, extra: { container: c.name, listen: `127.0.0.1:${p3}` } });
    const r = await d.reload();
    assert.equal(r.status, 400);
    const err = json<{ error: { code: string; message: string } }>(r).error;
    assert.equal(err.code, 'LISTEN_FAILED');
    assert.match(err.message, new RegExp(`service "web": cannot listen on 127\\.0\\.0\\.1:${taken}`));
    assert.ok(d.logs.some((l) => l.level === 'error' && l.msg.startsWith('reload rejected, the running config stays in force')));
    assert.equal((await httpGet({ host: '127.0.0.1', port: p1 })).status, 200, 'web still answers on its old address');
    assert.equal((await httpGet({ host: '127.0.0.1', port: p2 })).status, 200, 'api is not removed');
    assert.equal(await accepts(p3), false, 'extra is not added');
    assert.deepEqual((await d.status()).map((s) => [s.name, s.listeners]), before.map((s) => [s.name, s.listeners]));
  });

  it('a changed service whose container is running adopts it: the new idleTimeout stops it without a new connection', { timeout: 60_000 }, async (t) => {
    const { c, web, d } = await servingWeb(t, 'rl-adopt');
    await d.rewrite({ web: { ...web, extra: '    idleTimeout: 1s\n' } });
    assert.equal((await d.reload()).status, 200);
    await eventually('status shows the running container as ready', async () => (await d.status())[0]?.state === 'ready', 10_000);
    await eventually('stopped after the new idleTimeout', async () => !(await running(c.name)), 15_000);
    await eventually('status shows it stopped', async () => (await d.status())[0]?.state === 'stopped', 5_000);
  });

  it('--stop-on-exit across a reload: a changed service keeps ownership, a removed one is stopped at exit, one found running is left', { timeout: 60_000 }, async (t) => {
    const [c, goneC, foundC] = [await server(t, 'rl-owned'), await server(t, 'rl-owned-gone'), await server(t, 'rl-found')];
    await engine.docker.getContainer(foundC.name).start();
    const [port, pGone, pFound] = await freePorts(3);
    const web: Svc = { container: c.name, listen: `127.0.0.1:${port}` };
    const gone: Svc = { container: goneC.name, listen: `127.0.0.1:${pGone}` };
    const found: Svc = { container: foundC.name, listen: `127.0.0.1:${pFound}` };
    const d = await reloadable(t, { web, gone, found }, { stopOnExit: true });
    for (const p of [port, pGone, pFound]) assert.equal((await httpGet({ host: '127.0.0.1', port: p })).status, 200);
    await d.rewrite({ web: { ...web, extra: '    idleTimeout: 10m\n' }, found: { ...found, extra: '    idleTimeout: 10m\n' } });
    const r = await d.reload();
    assert.deepEqual(json<ReloadResult>(r), { added: [], removed: ['gone'], changed: ['web', 'found'] });
    await eventually('both changed services ready again after the reload', async () => (await d.status()).every((s) => s.state === 'ready'), 10_000);
    assert.equal(await running(goneC.name), true, 'a removed service\'s container is left running until exit');
    await d.daemon.shutdown('test');
    assert.equal(await running(c.name), false, 'the container portwake started is stopped on exit');
    assert.equal(await running(goneC.name), false, 'so is the one the removed service started');
    assert.equal(await running(foundC.name), true, 'the one it found running is left running');
    await assert.rejects(d.daemon.reload(), /shutting down; reload refused/);
  });

  it('20 reloads that change only idleTimeout: a connection loop meanwhile sees no failure (the listening socket is kept)', { timeout: 120_000 }, async (t) => {
    const { web, port, d } = await servingWeb(t, 'rl-loop');
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const deadline = Date.now() + 60_000;
    const MAX = 20_000;
    const worker = async (): Promise<void> => {
      while (!stop && ok + failures.length < MAX && Date.now() < deadline) {
        try {
          const r = await httpGet({ host: '127.0.0.1', port }, '/', 10_000);
          if (r.status === 200) ok++;
          else failures.push(`status ${r.status}`);
        } catch (err) {
          failures.push((err as NodeJS.ErrnoException).code ?? (err as Error).message);
        }
      }
    };
    const workers = Array.from({ length: 8 }, () => worker());
    for (let i = 0; i < 20; i++) {
      // Reloads spread over the loop: each after 50 more connections.
      const mark = ok + failures.length;
      await eventually('the loop moves on', () => ok + failures.length >= mark + 50 || Date.now() > deadline, 30_000);
      await d.rewrite({ web: { ...web, extra: `    idleTimeout: ${10 + i}m\n` } });
      const r = await d.reload();
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(json<ReloadResult>(r).changed, ['web']);
    }
    stop = true;
    await Promise.all(workers);
    assert.ok(ok > 100, `the loop ran (${ok} connections)`);
    assert.deepEqual(failures, [], `${failures.length} of ${ok + failures.length} connections failed during the reloads`);
    assert.equal((await d.status())[0]?.idleDeadline === undefined, false, 'the last idleTimeout is armed');
  });

  it('a reload that changes only timeouts and limits keeps a download in flight, even past the grace period', { timeout: 120_000 }, async (t) => {
    const c = await server(t, 'rl-dl', true);
    const port = await freePort();
    const web: Svc = { container: c.name, listen: `127.0.0.1:${port}` };
    const d = await reloadable(t, { web }, { graceMs: 300 });
    const dl = await slowDownload(t, { host: '127.0.0.1', port }, '/big', { startedAfterBytes: 256 * 1024 });
    await d.rewrite({ web: { ...web, extra: '    idleTimeout: 10m\n    maxConnections: 100\n    startTimeout: 30s\n' } });
    const r = await d.reload();
    assert.equal(r.status, 200, r.body);
    const at = dl.bytes();
    // Well past the grace period a retired service's connections would get.
    await eventually('the download moves on after the reload', () => dl.bytes() > at + 1024 * 1024, 20_000);
    await new Promise((res) => setTimeout(res, 1_000));
    dl.fast();
    const end = await dl.done;
    assert.equal(end.complete, true, `the download survived the reload (${end.bytes}/${BIG}, ${end.how})`);
    assert.equal(d.logs.some((l) => /closing them/.test(l.msg)), false, 'no connection was cut');
    assert.equal((await d.status())[0]?.state, 'ready');
  });

  it('a reload that changes the container drains the old connections for the grace period, then cuts them and says so', { timeout: 120_000 }, async (t) => {
    const [a, b] = [await server(t, 'rl-swap-a', true), await server(t, 'rl-swap-b')];
    const port = await freePort();
    const web: Svc = { container: a.name, listen: `127.0.0.1:${port}` };
    const d = await reloadable(t, { web }, { graceMs: 500 });
    const dl = await slowDownload(t, { host: '127.0.0.1', port }, '/big', { startedAfterBytes: 256 * 1024 });
    dl.stall();
    await d.rewrite({ web: { ...web, container: b.name } });
    const r = await d.reload();
    assert.deepEqual(json<ReloadResult>(r).changed, ['web']);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'the new container answers on the same address');
    assert.equal(await running(b.name), true);
    await eventually('the grace period ends', () => d.logs.some((l) => /closing them$/.test(l.msg)), 20_000);
    dl.fast();
    const end = await dl.done;
    assert.equal(end.complete, false, 'the old container\'s download was cut after the grace period');
    assert.ok(d.logs.some((l) => /^reload: service "web" changed its container .*1 open connection\(s\) may finish within 500ms, then are closed$/.test(l.msg)), JSON.stringify(d.logs.map((l) => l.msg)));
    assert.ok(d.logs.some((l) => l.msg === 'service "web": 1 connection(s) still open after the 500ms grace period, closing them'));
  });

  it('SIGHUP to `portwake run`: applies added/removed/changed, keeps an unchanged transfer, rejects a bad file with FILE:LINE:COL', { timeout: 120_000 }, async (t) => {
    const [keepC, goneC, newC] = [await server(t, 'hup-keep', true), await server(t, 'hup-gone', true), await server(t, 'hup-new')];
    const [pKeep, pGone, pNew] = await freePorts(3);
    const keep: Svc = { container: keepC.name, listen: `127.0.0.1:${pKeep}` };
    const gone: Svc = { container: goneC.name, listen: `127.0.0.1:${pGone}` };
    const dir = await scratchDir(t, 'pw-hup-');
    const file = join(dir, 'portwake.yaml');
    await writeFile(file, yaml({ keep, gone }));
    const pw = await startCliDaemon(t, engine, ['run', '-c', file, '--grace', '60s']);

    const keepDl = await slowDownload(t, { host: '127.0.0.1', port: pKeep }, '/big', { startedAfterBytes: 256 * 1024 });
    const goneDl = await slowDownload(t, { host: '127.0.0.1', port: pGone }, '/big', { startedAfterBytes: 256 * 1024 });

    await writeFile(file, yaml({ keep: { ...keep }, added: { container: newC.name, listen: `127.0.0.1:${pNew}` } }));
    pw.kill('SIGHUP');
    const reloaded = await pw.waitForLog('"config reloaded"', (l) => l.msg.startsWith('config reloaded'));
    assert.deepEqual([reloaded['added'], reloaded['removed'], reloaded['changed']], [['added'], ['gone'], []]);
    assert.equal((await httpGet({ host: '127.0.0.1', port: pNew })).status, 200);
    assert.equal(await accepts(pGone), false);

    // A bad file: rejected, logged with every problem at its line:col; the running config stays.
    await writeFile(file, `services:\n  keep:\n    listen: 127.0.0.1:${pKeep}\n    container: ${keepC.name}\n    maxPending: lots\n`);
    pw.kill('SIGHUP');
    const rejected = await pw.waitForLog('"reload rejected"', (l) => l.msg.startsWith('reload rejected'));
    assert.equal(rejected.level, 50);
    assert.match(rejected.msg, /^reload rejected, the running config stays in force:\nportwake\.yaml:5:17: services\.keep\.maxPending: /);
    assert.equal((await httpGet({ host: '127.0.0.1', port: pNew })).status, 200, 'the added service still answers');

    keepDl.fast();
    goneDl.fast();
    const [keepEnd, goneEnd] = [await keepDl.done, await goneDl.done];
    assert.equal(keepEnd.complete, true, `unchanged transfer survived two SIGHUPs (${keepEnd.bytes}, ${keepEnd.how})`);
    assert.equal(goneEnd.complete, true, `removed service's transfer drained (${goneEnd.bytes}, ${goneEnd.how})`);
    await pw.waitForLog('the activation of "added"', (l) => typeof l['startMs'] === 'number' && l['service'] === 'added');
    const activations = pw.logs.filter((l: LogRecord) => typeof l['startMs'] === 'number').map((l) => l['service']).sort();
    assert.deepEqual(activations, ['added', 'gone', 'keep']);

    pw.kill('SIGTERM');
    assert.equal((await pw.exited).code, 0, pw.stderr());
  });
});
