// Services from container labels against the real engine (docs/discovery.md): discovered at start
// and woken on the first connection, a container created while portwake runs served within 2 s, a
// removed one's listener gone and its held connection closed, a recreate with changed labels
// applied like a reload (the kept address's socket stays), a bad label reported precisely while a
// good container serves, clashes with the file reported and not served, and `portwake check
// --discover` / `portwake run --discover`. The engine is shared: every container here carries a
// label prefix of this process's own (pwt<random>), so no other test's containers are discovered.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { withDiscoverFlags } from '../../src/config/discovery.ts';
import { loadConfig } from '../../src/config/load.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';
import { runCli, startCliDaemon } from '../support/cli-child.ts';
import { recordingLogger, type LogLine } from '../support/control-harness.ts';
import { connect, countingProvider, eventually, freePort, freePorts, httpdCmd, httpGet, isRunning, runDaemon, type RunningDaemon, whenClosed } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine, type Engine, type TestContainer } from '../support/engine.ts';
import { scratchDir } from '../support/file-daemon.ts';
import { writeFile } from 'node:fs/promises';

let engine: Engine;
let busybox: string;
/** This file's own label prefix: nothing else on the shared engine carries it. */
const P = `pwt${randomBytes(4).toString('hex')}`;

before(async () => {
  engine = await getEngine();
  busybox = await ensureImage('busybox');
});

/** A busybox httpd container (port 80 exposed) with these labels (keys without the prefix get it). */
async function labelled(t: TestContext, hint: string, labels: Record<string, string>, cmd = httpdCmd()): Promise<TestContainer> {
  const full = Object.fromEntries(Object.entries(labels).map(([k, v]) => [k.includes('.') && !k.startsWith('.') ? k : `${P}.${k.replace(/^\./, '')}`, v]));
  const c = await createContainer(engine, { image: busybox, cmd, expose: [80], nameHint: hint, labels: full, stopSignal: 'SIGKILL' });
  t.after(() => c.remove());
  return c;
}

interface Discovering extends RunningDaemon { logs: LogLine[] }

/** An in-process daemon discovering this file's prefix; `yaml`: a config file beside it. */
async function discovering(t: TestContext, yaml?: string): Promise<Discovering> {
  let file: PortwakeConfig | undefined;
  let configPath: string | undefined;
  if (yaml !== undefined) {
    const dir = await scratchDir(t, 'pw-discovery-');
    configPath = join(dir, 'portwake.yaml');
    await writeFile(configPath, yaml);
    file = await loadConfig(configPath);
  }
  const config = { ...withDiscoverFlags(file, { discover: true, labelPrefix: P }), engineHost: engine.dockerHost };
  const logs: LogLine[] = [];
  if (process.env['PORTWAKE_TEST_LOG'] === '1') t.after(() => { for (const l of logs) console.log(l.level, l.msg, JSON.stringify(l.obj)); });
  const running = await runDaemon(t, { config, configPath, logger: recordingLogger(logs), provider: countingProvider(engine), stopOnExit: false, graceMs: 500 });
  return { ...running, logs };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

const warnings = (logs: readonly LogLine[]): string[] => logs.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.msg);

describe('discovery from container labels (real engine)', () => {
  it('serves every labelled container at start and wakes it on the first connection', async (t) => {
    const port = await freePort();
    const c = await labelled(t, 'disc-start', { listen: `127.0.0.1:${port}`, 'idle-timeout': '10m' });
    const d = await discovering(t);
    assert.deepEqual(d.daemon.status().map((s) => [s.name, s.container, s.listeners]), [[c.name, c.name, [`127.0.0.1:${port}`]]]);
    assert.equal(await isRunning(engine, c.name), false);
    const r = await httpGet({ host: '127.0.0.1', port });
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), new RegExp(c.id.slice(0, 12)));
    assert.equal(await isRunning(engine, c.name), true);
    assert.deepEqual(warnings(d.logs), []);
  });

  it('a container created while portwake runs gets its listener within 2 s; one removed loses it and its held connection is closed', async (t) => {
    const d = await discovering(t);
    const port = await freePort();
    // ready: tcp to an app that never listens: a connection is held for as long as the start lasts.
    const created = Date.now();
    const c = await labelled(t, 'disc-live', { listen: `127.0.0.1:${port}`, 'start-timeout': '2m' }, ['sh', '-c', 'trap "exit 0" TERM; sleep 600 & wait']);
    // Listening, as the status says (a probe connection would start the container).
    await eventually('the new container\'s listener', () => d.daemon.status().some((s) => s.name === c.name && s.listeners.length === 1), 20_000);
    const took = Date.now() - created;
    t.diagnostic(`listener ${took} ms after the create request was sent`);
    // Generous for a busy shared machine; the settle time is 150 ms and a listing a few ms.
    assert.ok(took < 10_000, `listener after ${took} ms`);

    const held = await connect({ host: '127.0.0.1', port });
    const closed = whenClosed(held);
    held.write('GET / HTTP/1.0\r\n\r\n');
    await eventually('the held connection', () => (d.daemon.status().find((s) => s.name === c.name)?.heldConnections ?? 0) >= 1);
    await c.remove();
    const end = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(r, 20_000, undefined))]);
    assert.ok(end !== undefined, 'the held connection was not closed within 20 s of the container\'s removal');
    // Whichever comes first closes it: the start failing (the engine refuses to start a container
    // marked for removal, or it dies: a failed start resets its held connections, as for any
    // failed start) or the service's removal (held connections closed with a FIN).
    assert.ok(end.how === 'end' || end.how === 'ECONNRESET' || end.how === 'close', end.how);
    t.diagnostic(`held connection: ${end.how}`);
    await eventually('the listener closed', async () => !(await accepts(port)), 10_000);
    assert.deepEqual(d.daemon.status().map((s) => s.name), []);
  });

  it('a container recreated under its name with changed labels is applied like a reload: the kept address keeps its socket', async (t) => {
    const [p1, p2] = await freePorts(2);
    const name = `pwtest-disc-recreate-${process.pid}-${randomBytes(3).toString('hex')}`;
    const project = `${P}proj`;
    const create = async (containerName: string, labels: Record<string, string>): Promise<void> => {
      const c = await engine.docker.createContainer({
        name: containerName, Image: busybox, Cmd: httpdCmd(), ExposedPorts: { '80/tcp': {} },
        Labels: { 'portwake-test': '1', 'com.docker.compose.project': project, 'com.docker.compose.service': 'web', 'com.docker.compose.container-number': '1', ...labels },
      });
      t.after(() => c.remove({ force: true }).catch(() => undefined));
    };
    await create(name, { [`${P}.listen`]: `127.0.0.1:${p1}`, [`${P}.idle-timeout`]: '1m' });
    const d = await discovering(t);
    assert.deepEqual(d.daemon.status().map((s) => [s.name, s.listeners]), [['web', [`127.0.0.1:${p1}`]]]);
    assert.equal((await httpGet({ host: '127.0.0.1', port: p1 })).status, 200);

    // As docker-compose 1.29 recreates: stop, rename the old one aside, create the new one, remove the old.
    // By id: the name is the new container's once it is created.
    const old = engine.docker.getContainer((await engine.docker.getContainer(name).inspect()).Id);
    await old.stop({ t: 0 });
    await old.rename({ name: `${name}-old` });
    await create(name, { [`${P}.listen`]: `127.0.0.1:${p1},127.0.0.1:${p2}`, [`${P}.idle-timeout`]: '2m' });
    await old.remove({ force: true });
    await eventually('the second address', () => accepts(p2), 20_000);
    const web = d.daemon.status().find((s) => s.name === 'web');
    assert.deepEqual(web?.listeners, [`127.0.0.1:${p1}`, `127.0.0.1:${p2}`]);
    assert.equal(web?.container, name);
    const applied = d.logs.filter((l) => l.msg.startsWith('discovery applied:'));
    assert.ok(applied.every((l) => !(l.obj as { removed: string[] }).removed.includes('web')), `web was removed on the way: ${applied.map((l) => l.msg).join(' | ')}`);
    assert.ok(applied.some((l) => (l.obj as { inPlace: string[] }).inPlace.includes('web')), `not updated in place: ${applied.map((l) => l.msg).join(' | ')}`);
    assert.equal((await httpGet({ host: '127.0.0.1', port: p2 })).status, 200);
    // The stop above is one portwake did not ask for (it says so); discovery itself has nothing to report.
    assert.deepEqual(warnings(d.logs).filter((m) => !m.includes('stopped outside portwake')), []);
  });

  it('a bad label is reported with container, label and what is wrong; that container is skipped, the others serve', async (t) => {
    const [good, bad] = await freePorts(2);
    const g = await labelled(t, 'disc-good', { listen: `127.0.0.1:${good}` });
    const b = await labelled(t, 'disc-bad', { listen: `127.0.0.1:${bad}`, 'idle-timeout': 'ten', 'max-pending': '-1', idle_timout: '1m' });
    const d = await discovering(t);
    assert.deepEqual(d.daemon.status().map((s) => s.name), [g.name]);
    assert.equal((await httpGet({ host: '127.0.0.1', port: good })).status, 200);
    assert.equal(await accepts(bad), false);
    const w = warnings(d.logs);
    assert.equal(w.length, 1, w.join('\n'));
    for (const part of [
      `container "${b.name}": label ${P}.idle-timeout: expected a duration like "10m", got "ten"`,
      `container "${b.name}": label ${P}.max-pending: expected a positive whole number, got "-1"`,
      `container "${b.name}": label ${P}.idle_timout: unknown label; did you mean "${P}.idle-timeout"?`,
      'container skipped',
    ]) assert.ok(w[0]?.includes(part), `missing ${part} in ${w[0]}`);
  });

  it('a clash with a file service (address or name) is reported and the container is not served; the file service is', async (t) => {
    const [port, other] = await freePorts(2);
    const fileC = await labelled(t, 'disc-file', {});
    const byAddress = await labelled(t, 'disc-clash-addr', { listen: `127.0.0.1:${port}` });
    const byName = await labelled(t, 'disc-clash-name', { listen: `127.0.0.1:${other}`, name: 'web' });
    const d = await discovering(t, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${fileC.name}\n`);
    assert.deepEqual(d.daemon.status().map((s) => [s.name, s.container]), [['web', fileC.name]]);
    const w = warnings(d.logs);
    assert.ok(w.some((m) => m === `discovery: container "${byAddress.name}": label ${P}.listen: "127.0.0.1:${port}" is also used by service "web" of portwake.yaml; not served`), w.join('\n'));
    assert.ok(w.some((m) => m === `discovery: container "${byName.name}": label ${P}.name: service name "web" is taken by service "web" of portwake.yaml; not served`), w.join('\n'));
    assert.equal(await accepts(other), false);
    assert.match((await httpGet({ host: '127.0.0.1', port })).body.toString(), new RegExp(fileC.id.slice(0, 12)));
  });

  it('a container whose address another program holds is reported and skipped; the others are served', async (t) => {
    const [taken, free] = await freePorts(2);
    const squatter = net.createServer((s) => s.destroy());
    await new Promise<void>((r) => squatter.listen(taken, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => squatter.close(() => r())));
    const blocked = await labelled(t, 'disc-taken', { listen: `127.0.0.1:${taken}` });
    const good = await labelled(t, 'disc-free', { listen: `127.0.0.1:${free}` });
    const d = await discovering(t);
    assert.deepEqual(d.daemon.status().map((s) => s.name), [good.name]);
    assert.equal((await httpGet({ host: '127.0.0.1', port: free })).status, 200);
    const w = warnings(d.logs);
    assert.ok(w.some((m) => m.startsWith(`discovery: container "${blocked.name}": service "${blocked.name}" cannot be served: `) && m.includes('EADDRINUSE') && m.endsWith('skipped until the container is recreated')), w.join('\n'));
  });

  it('portwake check --discover lists what it would serve and every problem; run --discover serves with no file', async (t) => {
    const [good, bad] = await freePorts(2);
    const g = await labelled(t, 'disc-cli-good', { listen: `127.0.0.1:${good}`, ready: 'http:/' });
    const b = await labelled(t, 'disc-cli-bad', { listen: `127.0.0.1:${bad}`, ready: 'htp' });
    const check = await runCli(t, engine, ['check', '--discover', '--label-prefix', P]);
    assert.equal(check.code, 1, check.stdout + check.stderr);
    assert.match(check.stdout, new RegExp(`discovery: 2 container\\(s\\) labelled ${P}\\.\\*, 1 served`));
    assert.ok(check.stdout.includes(`service "${g.name}" (labels of container "${g.name}", on 127.0.0.1:${good}): ok`), check.stdout);
    assert.ok(check.stdout.includes(`discovery: container "${b.name}": label ${P}.ready: expected tcp, health, http, http:/PATH or delay:DURATION, got "htp"; did you mean "http"?`), check.stdout);

    const run = await startCliDaemon(t, engine, ['run', '--discover', '--label-prefix', P, '--label-filter', `${P}.ready=http:/`]);
    assert.equal((await httpGet({ host: '127.0.0.1', port: good })).status, 200);
    // The filter leaves the bad one out: nothing to report.
    assert.deepEqual(run.logs.filter((l) => l.level >= 40).map((l) => l.msg), []);
  });

  it('a container with a hosts label is routed by the file\'s HTTP router: its first request wakes it; one created later is routed at once, and a host already taken is reported', async (t) => {
    const port = await freePort();
    const first = await labelled(t, 'disc-host', { hosts: `one.${P}.test`, 'idle-timeout': '10m' });
    const d = await discovering(t, `http: 127.0.0.1:${port}\ndiscovery: {docker: {labelPrefix: ${P}}}\n`);
    assert.deepEqual(d.daemon.status().map((s) => [s.name, s.listeners]), [[first.name, []]], 'no listener of its own: the router reaches it');
    assert.equal(await isRunning(engine, first.name), false);
    const one = await hostGet(port, `one.${P}.test`);
    assert.equal(one.status, 200);
    assert.match(one.body, new RegExp(first.id.slice(0, 12)), 'answered by that container');
    assert.equal(await isRunning(engine, first.name), true);
    assert.equal((await hostGet(port, `nobody.${P}.test`)).status, 404, 'an unknown host is still a 404');

    const second = await labelled(t, 'disc-host-late', { hosts: `two.${P}.test` });
    const taken = await labelled(t, 'disc-host-taken', { hosts: `ONE.${P}.test` });
    await eventually('the late container is routed', () => d.daemon.status().some((s) => s.name === second.name), 20_000);
    const two = await hostGet(port, `two.${P}.test`);
    assert.equal(two.status, 200);
    assert.match(two.body, new RegExp(second.id.slice(0, 12)));
    await eventually('the clash is reported', () => warnings(d.logs).some((m) => m === `discovery: container "${taken.name}": label ${P}.hosts: host "one.${P}.test" is claimed by service "${first.name}" (container "${first.name}"); not served`), 20_000);
    assert.ok(!d.daemon.status().some((s) => s.name === taken.name), 'the later one is not served');
  });
});

/** A GET with this Host header: the status and the body as text. */
function hostGet(port: number, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30s')));
    req.on('error', reject);
  });
}
