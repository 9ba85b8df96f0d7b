// Stacks against the real Docker engine: an app whose first connection starts its database first
// (ready before the app's container starts) and which lets the database idle out after it; a
// container group; a dependency's manual stop refused; restart policies warned about and managed.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { startupCheck } from '../../src/cli/startup-check.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Logger } from '../../src/core/logger.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { createDockerProvider } from '../../src/providers/docker/provider.ts';
import { createContainer, ensureImage, getEngine, type Engine, type TestContainer } from '../support/engine.ts';
import { runCli } from '../support/cli-child.ts';
import { eventually, freePort, freePorts, httpdCmd, httpGet, isRunning, startDaemon } from '../support/daemon-harness.ts';
import { scratchDir } from '../support/file-daemon.ts';

let engine: Engine;
let busybox: string;

interface Inspected { State: { Running: boolean; StartedAt: string }; HostConfig: { RestartPolicy: { Name: string } } }
const inspect = async (name: string): Promise<Inspected> => (await engine.docker.getContainer(name).inspect()) as unknown as Inspected;

/** A stopped busybox httpd (port 80) whose app listens `delayS` after its container starts; SIGKILL stops it at once. */
async function httpd(t: { after(fn: () => Promise<void>): void }, hint: string, delayS = 0): Promise<TestContainer> {
  const c = await createContainer(engine, { image: busybox, cmd: httpdCmd({ delayS }), expose: [80], nameHint: hint, stopSignal: 'SIGKILL' });
  t.after(() => c.remove());
  return c;
}

function recorder(): { logger: Logger; lines: Array<{ level: string; msg: string }> } {
  const lines: Array<{ level: string; msg: string }> = [];
  const at = (level: string) => (_obj: object, msg: string): void => { lines.push({ level, msg }); };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines };
}

describe('stacks against a real Docker engine', { timeout: 180_000 }, () => {
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  it('the first connection to the app starts its database first (ready before the app\'s start), which idles out after the app', async (t) => {
    // db's app listens 1 s after its container starts: an app started before db was ready would start within that second.
    const db = await httpd(t, 'stack-db', 1);
    const app = await httpd(t, 'stack-app');
    const port = await freePort();
    const { events, daemon } = await startDaemon(t, engine, [
      'services:',
      '  app:',
      `    listen: 127.0.0.1:${port}`,
      `    container: ${app.name}`,
      '    dependsOn: [db]',
      '    idleTimeout: 1s',
      '  db:',
      `    container: ${db.name}`,
      '    idleTimeout: 2s',
      '',
    ].join('\n'));
    assert.equal(await isRunning(engine, db.name), false, 'nothing starts before a connection');
    const res = await httpGet({ host: '127.0.0.1', port });
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /^hello-from-/);
    const [dbInfo, appInfo] = await Promise.all([inspect(db.name), inspect(app.name)]);
    const gap = Date.parse(appInfo.State.StartedAt) - Date.parse(dbInfo.State.StartedAt);
    assert.ok(gap >= 1_000, `the app started ${gap} ms after db, not before db's app listened (1 s after its start)`);
    assert.equal(daemon.status().find((s) => s.name === 'db')?.openConnections, 1, 'the app holds db');
    // Refused while the app is up: it would pull the database from under it.
    await assert.rejects(daemon.stop('db'), (err: unknown) => err instanceof PortwakeError && /service "db" is a dependency of "app", which is up; stop it first/.test(err.message));
    await eventually('the app idles out and then db', async () => !(await isRunning(engine, app.name)) && !(await isRunning(engine, db.name)), 30_000);
    const state = (service: string, to: string): number => events.findIndex((e) => e.type === 'state' && e.service === service && e.to === to);
    const appStopped = state('app', 'stopped');
    const dbStopping = state('db', 'stopping');
    assert.ok(appStopped >= 0 && dbStopping > appStopped, 'db is stopped only after the app has stopped');
    const appAt = events[appStopped]?.at ?? 0;
    const dbAt = events[dbStopping]?.at ?? 0;
    assert.ok(dbAt - appAt >= 1_900, `db waited its own idleTimeout (2s) after the app stopped (${dbAt - appAt} ms)`);
  });

  it('a dependency that does not exist fails the app\'s start with a message naming it; the app is never started', async (t) => {
    const app = await httpd(t, 'stack-lonely');
    const port = await freePort();
    const { events } = await startDaemon(t, engine, [
      'services:',
      `  app: {listen: "127.0.0.1:${port}", container: ${app.name}, dependsOn: [db]}`,
      '  db: {container: pwtest-no-such-db-container}',
      '',
    ].join('\n'));
    await assert.rejects(httpGet({ host: '127.0.0.1', port }, '/', 10_000));
    const failed = events.find((e) => e.type === 'failed' && e.service === 'app');
    assert.ok(failed?.type === 'failed');
    assert.equal(failed.code, 'DEPENDENCY_FAILED');
    assert.match(failed.message, /service "app": dependency "db" failed to start: service "db": container "pwtest-no-such-db-container" does not exist/);
    assert.equal((await inspect(app.name)).State.StartedAt.startsWith('0001-'), true, 'the app never ran');
  });

  it('a container group starts and stops together; one member killed takes the group down', async (t) => {
    const web = await httpd(t, 'group-web');
    const side = await httpd(t, 'group-side');
    const port = await freePort();
    await startDaemon(t, engine, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: [${web.name}, ${side.name}]\n    idleTimeout: 1s\n`);
    const first = await httpGet({ host: '127.0.0.1', port });
    assert.equal(first.status, 200);
    assert.match(first.body.toString(), new RegExp(`hello-from-${(await engine.docker.getContainer(web.name).inspect()).Config.Hostname}`), 'the first container takes the traffic');
    assert.equal(await isRunning(engine, side.name), true);
    await eventually('the whole group idles out', async () => !(await isRunning(engine, web.name)) && !(await isRunning(engine, side.name)));
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    assert.equal(await isRunning(engine, side.name), true, 'started again with the first');
    await engine.docker.getContainer(side.name).kill();
    await eventually('the rest of the group is stopped', async () => !(await isRunning(engine, web.name)));
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'the next connection starts the group again');
    assert.equal(await isRunning(engine, side.name), true);
  });

  it('restart policies: always is warned about; restartPolicy: manage sets it to "no" at start-up and at a start', async (t) => {
    const warned = await httpd(t, 'policy-warn');
    const managed = await httpd(t, 'policy-manage');
    const late = await httpd(t, 'policy-late');
    await engine.docker.getContainer(warned.name).update({ RestartPolicy: { Name: 'always' } });
    await engine.docker.getContainer(managed.name).update({ RestartPolicy: { Name: 'unless-stopped' } });
    const provider = createDockerProvider({ host: engine.dockerHost });
    assert.equal((await provider.inspect(warned.name)).restartPolicy, 'always');
    const [p1, p2] = await freePorts(2);
    const services = parseConfig([
      'services:',
      `  keep: {listen: "127.0.0.1:${p1}", container: ${warned.name}}`,
      `  manage: {listen: "127.0.0.1:${p2}", container: ${managed.name}, restartPolicy: manage}`,
      '',
    ].join('\n'), 't.yaml').services;
    const { logger, lines } = recorder();
    await startupCheck(services, provider, logger, new AbortController().signal);
    const warning = lines.find((l) => l.level === 'warn' && l.msg.includes(warned.name));
    assert.match(warning?.msg ?? '', /service "keep": container "[^"]+" has restart policy "always": the engine starts it again after it restarts/);
    assert.equal((await inspect(warned.name)).HostConfig.RestartPolicy.Name, 'always', 'keep leaves it');
    assert.equal((await inspect(managed.name)).HostConfig.RestartPolicy.Name, 'no');
    assert.equal(lines.filter((l) => l.msg.includes(`container "${managed.name}" from "unless-stopped" to "no"`)).length, 1, 'logged once');
    // A container given the policy later is managed at its next start.
    await engine.docker.getContainer(late.name).update({ RestartPolicy: { Name: 'always' } });
    const port = await freePort();
    await startDaemon(t, engine, `restartPolicy: manage\nservices:\n  late:\n    listen: 127.0.0.1:${port}\n    container: ${late.name}\n`);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    await eventually('the policy is "no"', async () => (await inspect(late.name)).HostConfig.RestartPolicy.Name === 'no');
  });

  it('portwake check: a warning per container with restart policy always (exit 0), what manage will do, and a group\'s members', { timeout: 60_000 }, async (t) => {
    const web = await httpd(t, 'check-web');
    const side = await httpd(t, 'check-side');
    const db = await httpd(t, 'check-db');
    await engine.docker.getContainer(side.name).update({ RestartPolicy: { Name: 'always' } });
    await engine.docker.getContainer(db.name).update({ RestartPolicy: { Name: 'unless-stopped' } });
    const file = join(await scratchDir(t, 'pw-stacks-'), 'portwake.yaml');
    await writeFile(file, [
      'services:',
      `  web: {listen: "127.0.0.1:${await freePort()}", container: [${web.name}, ${side.name}], dependsOn: [db]}`,
      `  db: {container: ${db.name}, restartPolicy: manage}`,
      '',
    ].join('\n'));
    const r = await runCli(t, engine, ['check', '-c', file]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, new RegExp(`service "web": ok \\(containers "${web.name}", "${side.name}"\\)`));
    assert.match(r.stdout, new RegExp(`service "web": warning: container "${side.name}" has restart policy "always"`));
    assert.match(r.stdout, new RegExp(`service "db": container "${db.name}" has restart policy "unless-stopped"; "portwake run" sets it to "no"`));
    assert.equal((await inspect(db.name)).HostConfig.RestartPolicy.Name, 'unless-stopped', 'check changes nothing');
  });
});
