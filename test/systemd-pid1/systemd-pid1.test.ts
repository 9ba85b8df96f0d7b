// The units of `portwake generate systemd`, installed under a real systemd as PID 1 (a Debian
// bookworm container on the test engine), end to end, both styles: the first connection starts
// everything and is answered, everything goes away again when idle while systemd keeps the
// socket, and the next connection starts it all again. systemd-socket-activate (test/systemd/)
// execs its child once and cannot show that exit-and-reactivate cycle; only systemd can.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';
import { ensureSystemdImage, type SystemdImage } from '../support/systemd-image.ts';
import { buildPackage, configDir, createMachine, httpGet, INSIDE, PORTWAKE_MAIN, until, type HttpAnswer, type SystemdMachine } from './machine.ts';

const HELLO = /hello from portwake-test/;
/** busybox httpd behind a shell that exits on SIGTERM (a shell as PID 1 ignores it otherwise). */
const SERVE = ['sh', '-c', 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait'];
const CONFIG = `${INSIDE.config}/portwake.yaml`;
const UNIT_PROPS = ['ActiveState', 'SubState', 'Result', 'ExecMainCode', 'ExecMainStatus', 'InvocationID', 'MainPID', 'NRestarts', 'InactiveExitTimestampMonotonic', 'ActiveEnterTimestampMonotonic'];
/** An answer slower than this gets the machine's journal in the report, to show where the time went. */
const SLOW_MS = 3_000;
/**
 * The pwtest0 bridge has no MAC of its own: Linux gives it the lowest MAC of its ports, which
 * changes as containers come and go. A container that learnt the old one (this machine, for the
 * host at 10.213.0.1) sends its replies into the void until it asks again: seconds, up to ~30 s.
 */
const STALL_NOTE = 'if the units were ready long before, the reply stalled on the pwtest0 bridge changing its MAC';
/** CLD_EXITED: the main process exited by itself (not killed). */
const EXITED = '1';

describe('generated units under systemd as PID 1', { timeout: 15 * 60_000 }, () => {
  let engine: Engine;
  let image: SystemdImage;
  let busybox: string;
  let pkg: string | undefined;
  let packageMs = 0;
  let reported = false;
  after(() => {
    if (pkg !== undefined) rmSync(pkg, { recursive: true, force: true });
  });
  before(async () => {
    engine = await getEngine();
    image = await ensureSystemdImage(engine);
    busybox = await ensureImage('busybox');
    const t0 = Date.now();
    pkg = await buildPackage();
    packageMs = Date.now() - t0;
  });

  /** A booted machine with an empty /etc/portwake; removed when the test ends. */
  async function machine(t: TestContext, hint: string): Promise<{ m: SystemdMachine; etc: string }> {
    if (!reported) {
      reported = true;
      const b = image.built;
      t.diagnostic(b === undefined
        ? `image ${image.ref} was cached`
        : `image ${image.ref} built in ${b.totalMs} ms (mmdebstrap ${b.mmdebstrapMs} ms, docker import ${b.importMs} ms, STOPSIGNAL build ${b.stopSignalMs} ms)`);
      t.diagnostic(`portwake package (tsc) built in ${packageMs} ms`);
    }
    const etc = configDir();
    t.after(() => rmSync(etc, { recursive: true, force: true }));
    const m = await createMachine(engine, { image: image.ref, pkg: pkg ?? '', configDir: etc, nameHint: hint });
    t.after(() => m.remove());
    t.diagnostic(`systemd booted in ${await m.boot()} ms (${m.name} at ${m.ip})`);
    return { m, etc };
  }

  async function running(containerId: string): Promise<{ running: boolean; startedAt: string }> {
    const s = (await engine.docker.getContainer(containerId).inspect()).State;
    return { running: s.Running, startedAt: s.StartedAt };
  }

  async function get(t: TestContext, m: SystemdMachine, port: number, label: string, units: string[]): Promise<HttpAnswer> {
    let answer: HttpAnswer;
    const sent = new Date();
    try {
      answer = await httpGet(m.ip, port);
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}\n${await m.describe(units)}`);
    }
    assert.equal(answer.status, 200, label);
    assert.match(answer.body, HELLO, label);
    t.diagnostic(`${label}: answered in ${answer.ms} ms`);
    if (answer.ms > SLOW_MS) {
      // Where the time went: a server side that was ready long before the answer points at the
      // network (see STALL_NOTE), not at systemd or portwake.
      t.diagnostic(`slow: sent at ${sent.toISOString()}; ${STALL_NOTE}; the units' journal since:`);
      const journal = await m.exec(['journalctl', '--no-pager', '-o', 'short-precise', '--since', `@${Math.floor(sent.getTime() / 1000)}`, ...units.flatMap((u) => ['-u', u])]);
      for (const line of journal.output.split('\n')) if (line !== '' && !line.includes('compat systemd cgroup')) t.diagnostic(`  ${line}`);
    }
    return answer;
  }

  it('style portwake: the socket starts portwake, portwake starts the container; portwake exits when idle, the socket stays and starts it again', async (t) => {
    const { m, etc } = await machine(t, 'pid1-portwake');
    const app = await createContainer(engine, { image: busybox, cmd: SERVE, nameHint: 'pid1-portwake-app' });
    t.after(() => app.remove());
    const units = ['portwake.socket', 'portwake.service'];
    const explain = (): Promise<string> => m.describe(units);

    writeFileSync(join(etc, 'portwake.yaml'), [
      'services:',
      '  web:',
      '    listen: 8080',
      `    container: ${app.name}`,
      '    idleTimeout: 1s',
      '',
    ].join('\n'));
    // Generated inside, as a user would: ExecStart= names this node and this package.
    const generated = await m.sh([INSIDE.node, PORTWAKE_MAIN, 'generate', 'systemd', '--config', CONFIG, '--exit-idle-time', '3s', '--output', '/etc/systemd/system']);
    assert.match(generated, /systemctl daemon-reload && systemctl enable --now portwake\.socket/);
    const execStart = (await m.sh(['systemctl', 'cat', 'portwake.service'])).split('\n').find((l) => l.startsWith('ExecStart='));
    assert.equal(execStart, `ExecStart=${INSIDE.node} ${PORTWAKE_MAIN} run --config ${CONFIG} --listen-from-systemd --exit-idle-time 3s`);
    await verify(m, units);
    await m.sh(['systemctl', 'daemon-reload']);
    await m.sh(['systemctl', 'enable', '--now', 'portwake.socket']);

    // Nothing runs until a connection comes.
    assert.deepEqual(pick(await m.show('portwake.socket', ['ActiveState', 'SubState'])), { ActiveState: 'active', SubState: 'listening' });
    assert.equal((await m.show('portwake.service', ['ActiveState'])).ActiveState, 'inactive');
    const before0 = await running(app.id);
    assert.equal(before0.running, false, 'the app container starts out stopped');

    // 1. The first connection starts portwake (socket → service), which starts the container.
    await get(t, m, 8080, 'first connection under systemd (portwake started, container started)', units);
    const answeredAt = Date.now();
    // Active once READY=1 is in, which may come a moment after the answer (sd_notify is not awaited).
    const first = await active(m, 'portwake.service', explain);
    t.diagnostic(`portwake.service activating (exec to READY=1) for ${activatingMs(first)} ms`);
    const started1 = await running(app.id);
    assert.notEqual(started1.startedAt, before0.startedAt, 'the app container was started');
    // sd_notify really reaches systemd (Type=notify): portwake's STATUS= line shows.
    const status = await until('StatusText= from portwake', async () => {
      const text = (await m.show('portwake.service', ['StatusText'])).StatusText ?? '';
      return /^1 service, \d running, \d starting/.test(text) ? text : undefined;
    }, 5_000, explain);
    t.diagnostic(`systemctl show -p StatusText: ${status}`);

    // 2. Idle: portwake stops the container after 1 s, then exits after 3 s more; systemd keeps the socket.
    const exited = await until('portwake exits after --exit-idle-time', async () => {
      const s = await m.show('portwake.service', UNIT_PROPS);
      return s.ActiveState === 'active' || s.ActiveState === 'activating' || s.ActiveState === 'deactivating' ? undefined : s;
    }, 20_000, explain);
    const exitMs = Date.now() - answeredAt;
    t.diagnostic(`portwake.service inactive ${exitMs} ms after the first answer`);
    assert.deepEqual(pick(exited, ['ActiveState', 'Result', 'ExecMainCode', 'ExecMainStatus', 'NRestarts']), {
      ActiveState: 'inactive', Result: 'success', ExecMainCode: EXITED, ExecMainStatus: '0', NRestarts: '0',
    }, 'portwake exited by itself with status 0, not failed and not restarted');
    assert.ok(exitMs >= 2_900, `portwake waited for --exit-idle-time 3s (exited ${exitMs} ms after the answer)`);
    assert.deepEqual(pick(await m.show('portwake.socket', ['ActiveState', 'SubState'])), { ActiveState: 'active', SubState: 'listening' });
    assert.equal((await running(app.id)).running, false, 'portwake stopped the idle container before exiting');
    const journal = await until('the activation and exit lines in the journal', async () => {
      const lines = await m.journal('portwake.service');
      const text = lines.map(message).join('\n');
      return text.includes(`started container "${app.name}"`) && text.includes('exiting (--exit-idle-time)') ? text : undefined;
    }, 5_000, explain);
    const activation = new RegExp(`service "web": started container "${app.name}", ready in \\d+ms.*`).exec(journal);
    assert.ok(activation !== null, journal);
    t.diagnostic(`portwake's journal: ${activation[0]}`);
    assert.match(journal, new RegExp(`service "web": stopped container "${app.name}" \\(idle\\)`));

    // 3. The next connection starts portwake again — a new invocation — and the container with it.
    await get(t, m, 8080, 'second connection (portwake started again by its socket)', units);
    const second = await active(m, 'portwake.service', explain);
    t.diagnostic(`portwake.service activating for ${activatingMs(second)} ms`);
    assert.notEqual(second.InvocationID, first.InvocationID, 'a new activation of portwake.service');
    assert.notEqual(second.MainPID, first.MainPID);
    const again = await until('the second activation line in the journal', async () => {
      const lines = (await m.journal('portwake.service')).map(message).filter((l) => l.includes(`started container "${app.name}"`));
      return lines.length >= 2 ? lines.at(-1) : undefined;
    }, 5_000, explain);
    t.diagnostic(`portwake's journal: ${again}`);
    assert.notEqual((await running(app.id)).startedAt, started1.startedAt, 'the app container was started again');
  });

  it('systemctl reload (ExecReload=): portwake keeps the socket systemd passed and applies the file; a changed listen: is left for a restart', async (t) => {
    const { m, etc } = await machine(t, 'pid1-reload');
    const app = await createContainer(engine, { image: busybox, cmd: SERVE, nameHint: 'pid1-reload-app' });
    t.after(() => app.remove());
    const units = ['portwake.socket', 'portwake.service'];
    const explain = (): Promise<string> => m.describe(units);
    const config = (listen: number, idle: string): void => writeFileSync(join(etc, 'portwake.yaml'), [
      'services:', '  web:', `    listen: ${listen}`, `    container: ${app.name}`, `    idleTimeout: ${idle}`, '',
    ].join('\n'));

    config(8082, '10m');
    await m.sh([INSIDE.node, PORTWAKE_MAIN, 'generate', 'systemd', '--config', CONFIG, '--output', '/etc/systemd/system']);
    const unit = await m.sh(['systemctl', 'cat', 'portwake.service']);
    assert.match(unit, /^ExecReload=kill -HUP \$MAINPID$/m);
    await verify(m, units);
    await m.sh(['systemctl', 'daemon-reload']);
    await m.sh(['systemctl', 'enable', '--now', 'portwake.socket']);
    await get(t, m, 8082, 'first connection (portwake and the container started)', units);
    const first = await active(m, 'portwake.service', explain);

    // Only the idle timeout changes: applied in place, on the same socket, by the same process.
    config(8082, '1s');
    await m.sh(['systemctl', 'reload', 'portwake.service']);
    const reloaded = await until('the reload in the journal', async () => {
      const text = (await m.journal('portwake.service')).map(message).join('\n');
      return /config reloaded|reload rejected/.test(text) ? text : undefined;
    }, 10_000, explain);
    assert.doesNotMatch(reloaded, /reload rejected/);
    assert.match(reloaded, /config reloaded: 0 added, 0 removed, 1 changed \(1 in place\)/);
    await until('the container stopped after the new idleTimeout', async () => ((await running(app.id)).running ? undefined : true), 20_000, explain);
    await get(t, m, 8082, 'after the reload (same socket, container started again)', units);
    const after = await active(m, 'portwake.service', explain);
    assert.equal(after.MainPID, first.MainPID, 'the same portwake process: reloaded, not restarted');
    assert.equal(after.NRestarts, '0');

    // A new address needs new socket units: the reload says so and keeps serving the old socket.
    config(8083, '1s');
    await m.sh(['systemctl', 'reload', 'portwake.service']);
    const warned = await until('the listen warning in the journal', async () => {
      const text = (await m.journal('portwake.service')).map(message).join('\n');
      return /listen changed/.test(text) ? text : undefined;
    }, 10_000, explain);
    assert.match(warned, /service "web": listen changed \(8082 → 8083\), but its sockets come from systemd \(--listen-from-systemd\) and stay as they are\. To apply it: "portwake generate systemd" again/);
    await get(t, m, 8082, 'after a reload that changed listen: (still the socket systemd passed)', units);
    assert.equal((await active(m, 'portwake.service', explain)).MainPID, first.MainPID);
  });

  it('style recipe: socket → systemd-socket-proxyd → container unit (wait-port); all stop when idle and start again', async (t) => {
    const { m, etc } = await machine(t, 'pid1-recipe');
    // systemd-socket-proxyd forwards to one fixed address. The app container's own address can
    // change at every start, and its 127.0.0.1-published port is the engine host's loopback, not
    // the machine's; so it is published on the bridge's gateway, which the machine reaches as the
    // seed recipe reaches its published 127.0.0.1:8080 (and wait-port is not fooled by docker-proxy).
    const published = await freePortOn(m.gateway);
    const app = await createPublished(t, engine, busybox, m.gateway, published);
    const units = ['web-proxy.socket', 'web-proxy.service', 'web-docker.service'];
    const explain = (): Promise<string> => m.describe(units);

    writeFileSync(join(etc, 'portwake.yaml'), [
      'services:',
      '  web:',
      '    listen: 8081',
      `    container: ${app.name}`,
      `    upstream: ${m.gateway}:${published}`,
      '    idleTimeout: 2s',
      '',
    ].join('\n'));
    await m.sh([INSIDE.node, PORTWAKE_MAIN, 'generate', 'systemd', '--style', 'recipe', '--config', CONFIG, '--output', '/etc/systemd/system']);
    const dockerUnit = await m.sh(['systemctl', 'cat', 'web-docker.service']);
    assert.match(dockerUnit, new RegExp(`^ExecStart=${INSIDE.docker} start -a ${app.name}$`, 'm'));
    assert.match(dockerUnit, new RegExp(`^ExecStartPost=${INSIDE.node} ${PORTWAKE_MAIN} wait-port ${m.gateway}:${published} --container ${app.name} --timeout 1m$`, 'm'));
    await verify(m, units);
    await m.sh(['systemctl', 'daemon-reload']);
    await m.sh(['systemctl', 'enable', '--now', 'web-proxy.socket']);

    assert.deepEqual(pick(await m.show('web-proxy.socket', ['ActiveState', 'SubState'])), { ActiveState: 'active', SubState: 'listening' });
    assert.equal((await m.show('web-proxy.service', ['ActiveState'])).ActiveState, 'inactive');
    assert.equal((await m.show('web-docker.service', ['ActiveState'])).ActiveState, 'inactive');
    const before0 = await running(app.id);
    assert.equal(before0.running, false, 'the app container starts out stopped');

    // 1. socket → proxyd, which Requires= the container unit; its ExecStartPost= (wait-port) holds
    // proxyd back until the app answers.
    await get(t, m, 8081, 'first connection under systemd (proxyd and container unit started)', units);
    const answeredAt = Date.now();
    const proxy1 = await m.show('web-proxy.service', UNIT_PROPS);
    assert.equal(proxy1.ActiveState, 'active');
    const docker1 = await m.show('web-docker.service', UNIT_PROPS);
    assert.equal(docker1.ActiveState, 'active');
    t.diagnostic(`web-docker.service activating (docker start -a, then wait-port) for ${activatingMs(docker1)} ms`);
    const started1 = await running(app.id);
    assert.notEqual(started1.startedAt, before0.startedAt, 'the app container was started');

    // 2. proxyd exits after --exit-idle-time=2s; nothing needs the container unit any more
    // (StopWhenUnneeded=yes), so systemd stops it and with it the container.
    const stopped = await until('proxyd and the container unit stop when idle', async () => {
      const p = await m.show('web-proxy.service', UNIT_PROPS);
      const d = await m.show('web-docker.service', UNIT_PROPS);
      return p.ActiveState === 'inactive' && d.ActiveState === 'inactive' ? { p, d } : undefined;
    }, 30_000, explain);
    t.diagnostic(`proxyd and container unit inactive ${Date.now() - answeredAt} ms after the first answer`);
    assert.deepEqual(pick(stopped.p, ['Result', 'ExecMainCode', 'ExecMainStatus']), { Result: 'success', ExecMainCode: EXITED, ExecMainStatus: '0' }, 'proxyd exited by itself');
    assert.deepEqual(pick(stopped.d, ['Result', 'ExecMainStatus']), { Result: 'success', ExecMainStatus: '0' }, '`docker start -a` ended with the container');
    assert.equal((await running(app.id)).running, false, 'the container was stopped');
    assert.deepEqual(pick(await m.show('web-proxy.socket', ['ActiveState', 'SubState'])), { ActiveState: 'active', SubState: 'listening' });
    const journal = (await m.journal('web-docker.service')).join('\n');
    assert.match(journal, /Stopping web-docker\.service/, journal);

    // 3. The next connection starts proxyd, the container unit and the container again.
    await get(t, m, 8081, 'second connection (proxyd and container started again)', units);
    const proxy2 = await m.show('web-proxy.service', UNIT_PROPS);
    assert.equal(proxy2.ActiveState, 'active');
    assert.notEqual(proxy2.InvocationID, proxy1.InvocationID, 'a new activation of web-proxy.service');
    const docker2 = await m.show('web-docker.service', UNIT_PROPS);
    assert.equal(docker2.ActiveState, 'active');
    t.diagnostic(`web-docker.service activating for ${activatingMs(docker2)} ms`);
    assert.notEqual((await running(app.id)).startedAt, started1.startedAt, 'the app container was started again');
  });
});

/** The chosen properties (default: all given), for one deepEqual that shows every difference. */
function pick(record: Record<string, string>, keys: readonly string[] = Object.keys(record)): Record<string, string | undefined> {
  return Object.fromEntries(keys.map((k) => [k, record[k]]));
}

/** `systemd-analyze verify` of the installed units, here with every binary they name present: silent. */
async function verify(m: SystemdMachine, units: readonly string[]): Promise<void> {
  const r = await m.exec(['systemd-analyze', 'verify', ...units.map((u) => `/etc/systemd/system/${u}`)]);
  assert.deepEqual({ code: r.code, output: r.output }, { code: 0, output: '' }, 'systemd-analyze verify');
}

/** The unit's properties once it is active (at most 10 s). */
function active(m: SystemdMachine, unit: string, explain: () => Promise<string>): Promise<Record<string, string>> {
  return until(`${unit} active`, async () => {
    const s = await m.show(unit, UNIT_PROPS);
    return s.ActiveState === 'active' ? s : undefined;
  }, 10_000, explain);
}

/** From leaving inactive to active: the unit's start jobs (ExecStart=, ExecStartPost=). */
function activatingMs(s: Record<string, string>): number {
  return Math.round((Number(s['ActiveEnterTimestampMonotonic']) - Number(s['InactiveExitTimestampMonotonic'])) / 1000);
}

/** portwake logs JSON lines; the journal has them as messages. */
function message(line: string): string {
  try {
    return (JSON.parse(line) as { msg?: string }).msg ?? line;
  } catch {
    return line;
  }
}

async function freePortOn(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The busybox app, stopped, with port 80 published on host:port (the harness publishes on 127.0.0.1 only). */
async function createPublished(t: TestContext, engine: Engine, image: string, host: string, port: number): Promise<{ id: string; name: string }> {
  const name = `pwtest-pid1-recipe-app-${process.pid}-${randomBytes(4).toString('hex')}`;
  const c = await engine.docker.createContainer({
    name,
    Image: image,
    Cmd: SERVE,
    Labels: { 'portwake-test': '1' },
    ExposedPorts: { '80/tcp': {} },
    HostConfig: { PortBindings: { '80/tcp': [{ HostIp: host, HostPort: String(port) }] } },
  });
  t.after(async () => {
    try {
      await c.remove({ force: true, v: true });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 404 && code !== 409) throw err;
    }
  });
  return { id: c.id, name };
}
