// The real CLI as a child process against the real engine: `run` and `proxy` bind and start nothing,
// the first request starts the container, JSON log lines with start/readiness timings, SIGTERM with
// a grace period that lets a transfer finish, --stop-on-exit, `check` exit codes, bad files.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { runCli, spawnCli, startCliDaemon, type CliChild, type LogRecord } from '../support/cli-child.ts';
import { eventually, freePort, freePorts, httpdContainer, httpGet, isRunning } from '../support/daemon-harness.ts';
import { ensureImage, getEngine, type Engine, type TestContainer } from '../support/engine.ts';
import { scratchDir } from '../support/file-daemon.ts';
import { slowDownload } from '../support/slow-download.ts';

let engine: Engine;
let busybox: string;

/** busybox httpd as PID 1 serving /www (index.html names the container; /big is 64 MiB when asked). */


const running = (name: string): Promise<boolean> => isRunning(engine, name);

const server = (t: TestContext, hint: string, big = false): Promise<TestContainer> => httpdContainer(t, engine, busybox, hint, big);

async function configFile(t: TestContext, yaml: string): Promise<string> {
  const path = join(await scratchDir(t, 'pw-cli-'), 'portwake.yaml');
  await writeFile(path, yaml);
  return path;
}

/** Whether 127.0.0.1:port is bound by someone (tried by binding it, so nothing connects to it). */
function bound(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(true));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:port right now (a connection may start a container). */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

const activationLines = (c: CliChild): LogRecord[] => c.logs.filter((l) => typeof l['startMs'] === 'number');

/** Sends the signal (SIGTERM), then resolves with the exit and how long it took. */
async function terminate(c: CliChild, signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: string | null; ms: number }> {
  const t0 = Date.now();
  c.kill(signal);
  const exit = await c.exited;
  return { code: exit.code, signal: exit.signal, ms: exit.at - t0 };
}

/**
 * `portwake run --grace GRACE` in front of a new container serving a 64 MiB /big, and a download
 * of it that has started (256 KiB in) and that the test slows down or speeds up.
 */
async function downloading(t: TestContext, hint: string, grace: string) {
  const c = await server(t, hint, true);
  const port = await freePort();
  const file = await configFile(t, `services:\n  big:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
  const pw = await startCliDaemon(t, engine, ['run', '-c', file, '--grace', grace]);
  const dl = await slowDownload(t, { host: '127.0.0.1', port }, '/big', { startedAfterBytes: 256 * 1024 });
  return { port, pw, dl };
}

describe('the portwake CLI against a real Docker engine', { timeout: 240_000 }, () => {
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  it('run -c FILE: binds and starts nothing; the first request starts the container; JSON log lines with timings; SIGTERM exits 0 and leaves the container', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'cli-run');
    const port = await freePort();
    const file = await configFile(t, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const pw = await startCliDaemon(t, engine, ['run', '-c', file]);
    assert.equal(await bound(port), true, 'the listener is bound once "listening" is logged');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await running(c.name), false, 'run starts no container');

    const res = await httpGet({ host: '127.0.0.1', port });
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /^hello-from-/);
    assert.equal(await running(c.name), true);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'later requests go straight through');

    // The log line travels through a pipe, not with the response: wait for it.
    await pw.waitForLog('the activation', (l) => typeof l['startMs'] === 'number');
    // stderr is a pipe, not a terminal: every line is JSON.
    assert.deepEqual(pw.otherLines, [], 'no non-JSON line on stderr');
    assert.ok(pw.logs.length >= 2);
    for (const l of pw.logs) {
      assert.equal(typeof l.level, 'number');
      assert.equal(typeof l.msg, 'string');
      assert.equal(typeof l['time'], 'string');
    }
    const activations = activationLines(pw);
    assert.equal(activations.length, 1, 'one line per activation');
    const a = activations[0] as LogRecord;
    assert.equal(a['service'], 'web');
    assert.equal(a['container'], c.name);
    assert.equal(a['startedByUs'], true);
    assert.ok((a['startMs'] as number) >= 0 && (a['readinessMs'] as number) >= 0);
    assert.match(a.msg, /started container ".*", ready in \d+ms \(container start \d+ms, readiness \d+ms\)/);

    const exit = await terminate(pw);
    assert.equal(exit.code, 0, pw.stderr());
    assert.ok(exit.ms < 5_000, `exited promptly with nothing open (${exit.ms}ms)`);
    assert.ok(pw.logs.some((l) => l.msg === 'stopped'), 'logs that it stopped');
    assert.equal(await accepts(port), false, 'nothing listens after exit');
    assert.equal(await running(c.name), true, 'without --stop-on-exit the container is left as it is');
  });

  it('SIGTERM during a slow download: accepting stops at once, the download still completes within --grace, then exit 0', { timeout: 90_000 }, async (t) => {
    const { port, pw, dl } = await downloading(t, 'cli-grace', '30s');
    const t0 = Date.now();
    pw.kill('SIGTERM');
    await pw.waitForLog('"shutting down"', (l) => l.msg.startsWith('shutting down'));
    await eventually('the listener closed', async () => !(await accepts(port)), 5_000);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(dl.bytes() < 64 * 1024 * 1024, 'the download was still in flight when SIGTERM arrived');
    let exitedEarly = false;
    void pw.exited.then(() => { exitedEarly = true; });
    assert.equal(exitedEarly, false, 'portwake waits for the open connection');
    dl.fast();
    const end = await dl.done;
    assert.equal(end.status, 200);
    assert.equal(end.contentLength, 64 * 1024 * 1024);
    assert.equal(end.complete, true, `the whole file arrived (${end.bytes} bytes, ${end.how})`);
    const exit = await pw.exited;
    assert.equal(exit.code, 0, pw.stderr());
    assert.ok(exit.at - t0 < 30_000, 'exited within the grace period');
    assert.ok(exit.at - end.at < 3_000, `exited as soon as the last connection ended (${exit.at - end.at}ms later)`);
  });

  it('--grace bounds the wait: a connection still open when it ends is closed, and the exit is still 0', { timeout: 60_000 }, async (t) => {
    const { pw, dl } = await downloading(t, 'cli-grace-cut', '1500ms');
    dl.stall();
    const exit = await terminate(pw);
    assert.equal(exit.code, 0, pw.stderr());
    assert.ok(exit.ms >= 1_400, `waited for the grace period (${exit.ms}ms)`);
    assert.ok(exit.ms < 6_000, `but not much longer (${exit.ms}ms)`);
    dl.fast();
    const end = await dl.done;
    assert.equal(end.complete, false, 'the stalled download was cut off');
    assert.ok(end.bytes < 64 * 1024 * 1024);
  });

  it('a second SIGTERM/SIGINT during the grace period exits at once, closing the open connection', { timeout: 60_000 }, async (t) => {
    const { pw, dl } = await downloading(t, 'cli-twice', '60s');
    dl.stall();
    pw.kill('SIGTERM');
    await pw.waitForLog('"shutting down"', (l) => l.msg.startsWith('shutting down'));
    await new Promise((r) => setTimeout(r, 500));
    const exit = await terminate(pw, 'SIGINT');
    assert.equal(exit.code, 0, pw.stderr());
    assert.ok(exit.ms < 3_000, `exited at the second signal, not after --grace (${exit.ms}ms)`);
    assert.ok(pw.logs.some((l) => l.level === 40 && l.msg.startsWith('second signal')));
    dl.fast();
    const end = await dl.done;
    assert.equal(end.complete, false, 'the open download was cut off');
  });

  it('out of file descriptors: connections over the limit are logged refusals, the daemon survives and serves again', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'cli-nofile');
    const port = await freePort();
    const file = await configFile(t, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const pw = await startCliDaemon(t, engine, ['run', '-c', file], { nofile: 96 });
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'served before the flood');
    // More idle connections than descriptors: each forwarded one holds two.
    const clients: net.Socket[] = [];
    t.after(() => clients.forEach((s) => s.destroy()));
    for (let i = 0; i < 120; i++) {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('error', () => undefined);
      clients.push(s);
    }
    const refusal = await pw.waitForLog('a refusal for want of descriptors', (l) => /too many open files \(EMFILE\)/.test(l.msg), 20_000);
    assert.equal(refusal.level, 40, 'a warning, not an error');
    assert.match(refusal.msg, /raise LimitNOFILE= or ulimit -n/);
    for (const s of clients.splice(0)) s.destroy();
    await eventually('served again once descriptors are free', async () => (await httpGet({ host: '127.0.0.1', port }).catch(() => ({ status: 0 }))).status === 200, 15_000);
    const exit = await terminate(pw);
    assert.equal(exit.code, 0, `still running after the flood, and exits cleanly: ${pw.stderr()}`);
  });

  it('--stop-on-exit stops the container it started and leaves one it found running', { timeout: 60_000 }, async (t) => {
    const cold = await server(t, 'cli-soe-cold');
    const warm = await server(t, 'cli-soe-warm');
    await engine.docker.getContainer(warm.name).start();
    const [p1, p2] = await freePorts(2);
    const file = await configFile(t, `services:\n  cold:\n    listen: 127.0.0.1:${p1}\n    container: ${cold.name}\n  warm:\n    listen: 127.0.0.1:${p2}\n    container: ${warm.name}\n`);
    const pw = await startCliDaemon(t, engine, ['run', '-c', file, '--stop-on-exit']);
    assert.equal((await httpGet({ host: '127.0.0.1', port: p1 })).status, 200);
    assert.equal((await httpGet({ host: '127.0.0.1', port: p2 })).status, 200);
    const found = await pw.waitForLog('the warm activation', (l) => typeof l['startMs'] === 'number' && l['service'] === 'warm');
    assert.equal(found['startedByUs'], false, 'the running container was found, not started');
    assert.equal(await running(cold.name), true);
    const exit = await terminate(pw);
    assert.equal(exit.code, 0, pw.stderr());
    assert.equal(await running(cold.name), false, 'the container portwake started is stopped');
    assert.equal(await running(warm.name), true, 'the one it found running is left running');
  });

  it('proxy --listen … --container …: binds and starts nothing, serves the first request, --idle stops it, SIGTERM exits 0', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'cli-proxy');
    const port = await freePort();
    const pw = await startCliDaemon(t, engine, ['proxy', '--listen', `127.0.0.1:${port}`, '--container', c.name, '--idle', '1s', '--stop-timeout', '1s']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await running(c.name), false, 'proxy starts no container');
    const res = await httpGet({ host: '127.0.0.1', port });
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /^hello-from-/);
    await pw.waitForLog('the activation', (l) => typeof l['startMs'] === 'number');
    const a = activationLines(pw);
    assert.equal(a.length, 1);
    assert.equal(a[0]?.['service'], c.name, 'the service is named after the container');
    await eventually('stopped after --idle 1s', async () => !(await running(c.name)), 15_000);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'the next request starts it again');
    await eventually('a second activation line', () => activationLines(pw).length === 2, 5_000);
    const exit = await terminate(pw);
    assert.equal(exit.code, 0, pw.stderr());
    assert.deepEqual(pw.otherLines, []);
  });

  it('check -c FILE: 0 when every container exists, 1 naming the missing one, 2 with FILE:LINE:COL lines for a bad file', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'cli-check');
    const [p1, p2] = await freePorts(2);
    const missing = `pwtest-missing-${process.pid}`;
    const good = await configFile(t, `services:\n  web:\n    listen: 127.0.0.1:${p1}\n    container: ${c.name}\n`);
    const ok = await runCli(t, engine, ['check', '-c', good]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /valid, 1 service\(s\)/);
    assert.match(ok.stdout, new RegExp(`service "web": ok \\(container "${c.name}"\\)`));

    const oneMissing = await configFile(t, `services:\n  web:\n    listen: 127.0.0.1:${p1}\n    container: ${c.name}\n  ghost:\n    listen: 127.0.0.1:${p2}\n    container: ${missing}\n    port: 80\n`);
    const bad = await runCli(t, engine, ['check', '-c', oneMissing]);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, new RegExp(`service "ghost": container "${missing}" does not exist`));
    assert.match(bad.stdout, /service "web": ok/, 'the other service is still reported');

    const broken = await configFile(t, [
      'services:',
      '  web:',
      `    listen: 127.0.0.1:${p1}`,
      `    container: ${c.name}`,
      '    idleTimeout: ten',
      '    maxConections: 5',
      '',
    ].join('\n'));
    const invalid = await runCli(t, engine, ['check', '-c', broken]);
    assert.equal(invalid.code, 2, invalid.stdout + invalid.stderr);
    const lines = invalid.stderr.trimEnd().split('\n');
    assert.deepEqual(lines, [
      'portwake.yaml:5:18: services.web.idleTimeout: expected a duration like "10m", got "ten"',
      'portwake.yaml:6:5: services.web.maxConections: unknown key; did you mean "maxConnections"?',
    ]);
    assert.equal(await running(c.name), false, 'check starts nothing');
  });

  it('run checks at start-up what check checks: one warning naming the service whose container is missing, and it serves the others', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'cli-startup-check');
    const [p1, p2] = await freePorts(2);
    const missing = `pwtest-missing-${process.pid}-startup`;
    const file = await configFile(t, `services:\n  web:\n    listen: 127.0.0.1:${p1}\n    container: ${c.name}\n  ghost:\n    listen: 127.0.0.1:${p2}\n    container: ${missing}\n    port: 80\n`);
    const pw = await startCliDaemon(t, engine, ['run', '-c', file]);
    const done = await pw.waitForLog('the start-up check\'s end', (l) => l.msg.startsWith('start-up check: ') && l['problems'] !== undefined);
    assert.deepEqual([done['ok'], done['problems']], [1, 1]);
    const warnings = pw.logs.filter((l) => l.level === 40);
    assert.equal(warnings.length, 1, `one warning: ${warnings.map((l) => l.msg).join(' | ')}`);
    assert.equal(warnings[0]?.['service'], 'ghost');
    assert.match(warnings[0]?.msg ?? '', new RegExp(`^start-up check: service "ghost": container "${missing}" does not exist.*; serving anyway`));
    assert.equal(await running(c.name), false, 'the check starts nothing');
    assert.equal((await httpGet({ host: '127.0.0.1', port: p1 })).status, 200, 'the other service is served');
    const exit = await terminate(pw);
    assert.equal(exit.code, 0, pw.stderr());
  });

  it('a bad file never half-starts run: exit 2, the errors, nothing listening, nothing started', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'cli-bad');
    const [p1, p2] = await freePorts(2);
    const file = await configFile(t, [
      'services:',
      '  good:',
      `    listen: 127.0.0.1:${p1}`,
      `    container: ${c.name}`,
      '  bad:',
      `    listen: 127.0.0.1:${p2}`,
      `    container: ${c.name}`,
      '    ready: {http: nope}',
      '',
    ].join('\n'));
    const pw = spawnCli(t, engine, ['run', '-c', file]);
    let everListened = false;
    const poll = setInterval(() => { void accepts(p1).then((yes) => { everListened ||= yes; }); }, 20);
    t.after(() => clearInterval(poll));
    const exit = await pw.exited;
    clearInterval(poll);
    assert.equal(exit.code, 2, pw.stderr());
    assert.match(pw.stderr(), /^portwake\.yaml:8:\d+: services\.bad\.ready/m);
    assert.ok(!pw.logs.some((l) => l.msg.startsWith('listening:')));
    assert.equal(everListened, false, 'the valid service never listened');
    assert.equal(await accepts(p1), false);
    assert.equal(await running(c.name), false);
  });

  it('run binds all or nothing: an address in use is exit 1 naming it, and the other listener is released', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'cli-inuse');
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => blocker.close(() => r())));
    const taken = (blocker.address() as net.AddressInfo).port;
    const p1 = await freePort();
    const file = await configFile(t, `services:\n  a:\n    listen: 127.0.0.1:${p1}\n    container: ${c.name}\n  b:\n    listen: 127.0.0.1:${taken}\n    container: ${c.name}\n`);
    const r = await runCli(t, engine, ['run', '-c', file]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`service "b": cannot listen on 127\\.0\\.0\\.1:${taken}`));
    assert.equal(await accepts(p1), false);
  });

  it('--version and --help', async (t) => {
    const v = await runCli(t, engine, ['--version']);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^\d+\.\d+\.\d+\n$/);
    const h = await runCli(t, engine, ['--help']);
    assert.equal(h.code, 0);
    for (const cmd of ['run', 'proxy', 'check', 'status', 'start', 'stop', 'events']) assert.match(h.stdout, new RegExp(`^  ${cmd}\\b`, 'm'));
    const runHelp = await runCli(t, engine, ['run', '--help']);
    assert.equal(runHelp.code, 0);
    for (const flag of ['--config', '--grace', '--stop-on-exit']) assert.ok(runHelp.stdout.includes(flag), flag);
    const unknown = await runCli(t, engine, ['frobnicate']);
    assert.equal(unknown.code, 2, 'an unknown command is a usage error');
  });
});
