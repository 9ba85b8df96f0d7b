// provider: command through the whole daemon, with real processes: a cold start held until the
// process listens, idle stop and the next start, a process that exits on its own, one that ignores
// SIGTERM, start:/stop:/status: shell scripts around a background httpd, a start command that
// hangs, a process that never listens, and no run: process outliving portwake.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { parseConfig } from '../../src/config/load.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { managedHttpd, nodeServer, sigtermIgnoringServer } from '../support/command-fixture.ts';
import { recordingLogger, type LogLine } from '../support/control-harness.ts';
import { freePorts } from '../support/free-port.ts';

interface Running { daemon: Daemon; logs: LogLine[]; port: number; upstream: number; dir: string }

const yamlList = (argv: readonly string[]): string => `[${argv.map((a) => JSON.stringify(a)).join(', ')}]`;

/** A daemon with one command service "app" (body: its provider keys and settings); shut down when the test ends. */
async function start(t: TestContext, body: (o: { upstream: number; dir: string }) => string): Promise<Running> {
  const dir = await mkdtemp(join(tmpdir(), 'pwtest-cmdd-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [port, upstream] = await freePorts(2);
  const yaml = `services:\n  app:\n    listen: 127.0.0.1:${port}\n    provider: command\n    upstream: 127.0.0.1:${upstream}\n${body({ upstream, dir })}`;
  const logs: LogLine[] = [];
  const daemon = await Daemon.start({ config: parseConfig(yaml, 'test.yaml'), configPath: undefined, logger: recordingLogger(logs), env: process.env, stopOnExit: false, graceMs: 500, exitIdleMs: undefined });
  t.after(() => daemon.shutdown('test end'));
  return { daemon, logs, port, upstream, dir };
}

/** Connects, sends nothing, reads until the peer ends: the greeting, or how it ended. */
function talk(port: number): Promise<{ text: string; how: string }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let how = 'end';
    s.setEncoding('utf8');
    s.on('data', (d: string) => { text += d; });
    s.on('error', (e: NodeJS.ErrnoException) => { how = e.code ?? e.message; });
    s.on('close', () => resolve({ text, how }));
  });
}

async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await delay(50);
  }
}

const state = (d: Daemon): string => d.status()[0]?.state ?? 'none';
const upstreamOpen = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

/**
 * The upstream stops accepting within a few seconds: a stop resolves once the main process exited,
 * and what else its group held (a shell's httpd) dies of the same signal a moment later.
 */
const closedSoon = (port: number): Promise<void> => until(`127.0.0.1:${port} to refuse`, async () => !(await upstreamOpen(port)), 5_000);

describe('daemon with provider: command (real processes)', () => {
  it('run: the first connection starts the process and is held until it listens; idle stops it; the next connection starts it again', async (t) => {
    const r = await start(t, () => `    run: ${yamlList(nodeServer({ listenAfterMs: 300 }))}\n    idleTimeout: 500ms\n    stopTimeout: 2s\n`);
    assert.equal(state(r.daemon), 'stopped');
    assert.equal(await upstreamOpen(r.upstream), false, 'nothing runs before the first connection');
    assert.deepEqual(await talk(r.port), { text: 'hello from app\n', how: 'end' });
    assert.ok(r.logs.some((l) => l.msg === `app: listening for app on 127.0.0.1:${r.upstream}`), 'the process output is in the log, prefixed');
    await until('the idle stop', () => state(r.daemon) === 'stopped' && r.logs.some((l) => /process \d+ .* exited with code 143 \(stopped by portwake\)/.test(l.msg)));
    await closedSoon(r.upstream);
    assert.deepEqual(await talk(r.port), { text: 'hello from app\n', how: 'end' });
  });

  it('run: a process that exits on its own is seen stopped at once; the next connection starts it again', async (t) => {
    const r = await start(t, () => `    run: ${yamlList(nodeServer({ crashAfterMs: 1500 }))}\n    startLimitBurst: 0\n`);
    assert.equal((await talk(r.port)).text, 'hello from app\n');
    await until('the exit to be noticed', () => state(r.daemon) === 'stopped');
    assert.ok(r.logs.some((l) => /process \d+ .* exited with code 1$/.test(l.msg)), 'the exit code is logged');
    assert.ok(r.logs.some((l) => l.msg.includes('stopped outside portwake (die)')), 'seen through the events');
    assert.equal((await talk(r.port)).text, 'hello from app\n');
  });

  it('run: a process that ignores SIGTERM is killed after stopTimeout', async (t) => {
    const r = await start(t, ({ dir }) => `    run: ${yamlList(sigtermIgnoringServer(dir))}\n    stopTimeout: 1s\n`);
    assert.equal((await fetch(`http://127.0.0.1:${r.port}/none`)).status, 404, 'served by the httpd (which has no such file)');
    const t0 = Date.now();
    await r.daemon.stop('app');
    assert.ok(Date.now() - t0 >= 900, `stopped after ${Date.now() - t0}ms, before the 1s grace`);
    assert.ok(r.logs.some((l) => /still running 1s after SIGTERM \(stopTimeout\); sending SIGKILL/.test(l.msg)));
    assert.ok(r.logs.some((l) => /exited with code 137 \(stopped by portwake\)/.test(l.msg)));
    await closedSoon(r.upstream);
  });

  it('run: a process that never listens: ready timeout, the process is killed, the held client is closed', async (t) => {
    const r = await start(t, () => `    run: ${yamlList(nodeServer({ noListen: true }))}\n    startTimeout: 1500ms\n    stopTimeout: 1s\n`);
    const t0 = Date.now();
    const res = await talk(r.port);
    assert.equal(res.text, '');
    assert.ok(Date.now() - t0 < 10_000);
    await until('the failed start to stop the process', () => r.logs.some((l) => /exited with code 143 \(stopped by portwake\)/.test(l.msg)));
    assert.ok(r.logs.some((l) => l.level === 'error' && /service "app": container "app" not ready after 1500ms/.test(l.msg)), JSON.stringify(r.logs.filter((l) => l.level === 'error')));
    assert.equal(state(r.daemon), 'failed');
  });

  it('start:/stop:/status: drive a background httpd through shell scripts: started on demand, stopped by the stop command', async (t) => {
    const r = await start(t, ({ dir }) => {
      const m = managedHttpd(dir);
      if (m.kind !== 'manage') throw new Error('unreachable');
      return `    start: ${yamlList(m.start)}\n    stop: ${yamlList(m.stop)}\n    status: ${yamlList(m.status)}\n    ready: {http: /index.html}\n`;
    });
    const res = await fetch(`http://127.0.0.1:${r.port}/index.html`);
    assert.equal(await res.text(), 'hello from a managed httpd\n');
    assert.equal(state(r.daemon), 'ready');
    await r.daemon.stop('app');
    assert.equal(state(r.daemon), 'stopped');
    await closedSoon(r.upstream); // the stop command stopped the httpd
    // Started again by the next request; left running at shutdown (an outside manager's service).
    assert.equal((await fetch(`http://127.0.0.1:${r.port}/index.html`)).status, 200);
    await r.daemon.shutdown('test');
    assert.equal(await upstreamOpen(r.upstream), true, 'a managed service is not stopped at shutdown without --stop-on-exit');
    const m = managedHttpd(r.dir);
    if (m.kind === 'manage') {
      const { execFileSync } = await import('node:child_process');
      execFileSync(m.stop[0] ?? 'sh', m.stop.slice(1));
    }
  });

  it('start: a start command that hangs is killed at startTimeout; the client is closed; the stop command runs', async (t) => {
    const r = await start(t, ({ dir }) => {
      const m = managedHttpd(dir, { startHangs: true });
      if (m.kind !== 'manage') throw new Error('unreachable');
      return `    start: ${yamlList(m.start)}\n    stop: ${yamlList(m.stop)}\n    status: ${yamlList(m.status)}\n    startTimeout: 1s\n`;
    });
    const t0 = Date.now();
    const res = await talk(r.port);
    assert.equal(res.text, '');
    assert.ok(Date.now() - t0 < 10_000, `held ${Date.now() - t0}ms`);
    await until('the failure logged', () => r.logs.some((l) => l.level === 'error' && /start command \[sh, -c, .*sleep 600.*\] did not finish within 1s; killed it/.test(l.msg)));
    assert.equal(state(r.daemon), 'failed');
  });

  it('shutdown stops run: processes even without --stop-on-exit', async (t) => {
    const r = await start(t, () => `    run: ${yamlList(nodeServer())}\n    stopTimeout: 2s\n`);
    assert.equal((await talk(r.port)).text, 'hello from app\n');
    assert.equal(await upstreamOpen(r.upstream), true);
    await r.daemon.shutdown('test');
    await closedSoon(r.upstream);
  });
});
