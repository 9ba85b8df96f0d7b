// The example examples/compose-labels/ for real: Debian's docker-compose (1.29) creates its three
// services on the test engine (offline images, fresh ports, a project name of this run's own), then
// `portwake check --discover` lists both and `portwake run --discover`, limited to that project by
// its compose label, serves each one and wakes it on the first connection, files with its
// dependency db (no listener: a dependency only), which web's start leaves alone; then
// `docker-compose down` while portwake runs removes everything (db is not brought back for files).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runCli, startCliDaemon } from '../support/cli-child.ts';
import { freePorts, httpGet, isRunning } from '../support/daemon-harness.ts';
import { ensureImage, findBinary, getEngine, type Engine } from '../support/engine.ts';

const run = promisify(execFile);
const EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'compose-labels', 'docker-compose.yml');

let engine: Engine;

before(async () => {
  engine = await getEngine();
});

describe('examples/compose-labels with docker-compose (real engine)', () => {
  it('docker-compose up --no-start, then portwake check/run --discover serve the services and wake each on its first connection, with its dependency', async (t) => {
    const compose = findBinary('docker-compose');
    assert.ok(compose !== undefined, 'docker-compose is not installed: apt-get install -y docker-compose (Debian 12: 1.29)');
    const project = `pwt${randomBytes(4).toString('hex')}`;
    const [webPort, filesPort] = await freePorts(2);
    const env = {
      ...process.env,
      DOCKER_HOST: engine.dockerHost,
      WEB_IMAGE: await ensureImage('nginx'),
      FILES_IMAGE: await ensureImage('busybox'),
      WEB_PORT: String(webPort),
      FILES_PORT: String(filesPort),
    };
    const dc = (...args: string[]): Promise<{ stdout: string; stderr: string }> => run(compose, ['-p', project, '-f', EXAMPLE, ...args], { env, timeout: 120_000 });
    t.after(async () => { await dc('down', '--timeout', '0').catch(() => undefined); });
    await dc('up', '--no-start');
    const [web, files, db] = [`${project}_web_1`, `${project}_files_1`, `${project}_db_1`];
    const filter = `com.docker.compose.project=${project}`;

    const check = await runCli(t, engine, ['check', '--discover', '--label-filter', filter]);
    assert.equal(check.code, 0, check.stdout + check.stderr);
    assert.ok(check.stdout.includes(`service "web" (labels of container "${web}", on 127.0.0.1:${webPort}): ok`), check.stdout);
    assert.ok(check.stdout.includes(`service "files" (labels of container "${files}", on 127.0.0.1:${filesPort}): ok`), check.stdout);
    assert.ok(check.stdout.includes(`service "db" (labels of container "${db}", no listener: a dependency): ok`), check.stdout);

    const daemon = await startCliDaemon(t, engine, ['run', '--discover', '--label-filter', filter]);
    assert.equal(await isRunning(engine, web), false);
    const w = await httpGet({ host: '127.0.0.1', port: webPort });
    assert.equal(w.status, 200);
    assert.equal(await isRunning(engine, web), true);
    assert.equal(await isRunning(engine, files), false);
    assert.equal(await isRunning(engine, db), false, 'web does not depend on db');
    const f = await httpGet({ host: '127.0.0.1', port: filesPort });
    assert.equal(f.status, 200);
    assert.equal(f.body.toString().trim(), 'files');
    // Started first and ready (its port answered portwake's probe) before files was started. That
    // files then reaches it on the compose network is Docker's part, not checked here: next to a
    // standard dockerd (FORWARD DROP, br_netfilter) a compose network's bridge drops that traffic.
    assert.equal(await isRunning(engine, db), true, 'files\'s dependency was started with it');
    assert.deepEqual(daemon.logs.filter((l) => l.level >= 40).map((l) => l.msg), []);
    // The user takes the project down while portwake runs: db and files stop together, and portwake
    // must not bring db back for files (compose would then fail to remove it and its network).
    await dc('down', '--timeout', '0');
    const left = await run('docker', ['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`], { env, timeout: 30_000 });
    assert.equal(left.stdout.trim(), '', 'every container of the project is gone');
  });
});
