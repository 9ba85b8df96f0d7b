// The Dockerfile, built offline by the test engine and run against it: the bases come from build
// arguments (a Node base imported from this host's node, npm and libraries on the busybox tree; it
// has no compiler, so the image ships without the native addon and says so once), the build
// context brings the checkout's node_modules instead of `npm ci`, and the container, with the
// engine's socket mounted, wakes a busybox httpd — with host networking and with a published port.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';
import { freePort, httpGet } from '../support/daemon-harness.ts';
import { withLock } from '../../tools/local-engine/dir-lock.ts';
import { dockerCli, dockerEnv } from '../support/systemd-image.ts';
import { buildBusyboxRoot, hasImage, importRootfs } from '../support/test-images.ts';
import { ok, runCommand } from './commands.ts';

const ROOT = resolve(import.meta.dirname, '../..');
/** Bump when the base's recipe changes. */
const BASE = `portwake-test/node-host:${process.version.slice(1)}-1`;
const HTTPD = ['sh', '-c', 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait'];
const BUILD_DEADLINE_MS = 10 * 60_000;
const NOT_BUILT = 'the native addon is not built';

/** A Node base from this host: the busybox tree, node and its libraries, npm. No compiler. */
async function ensureNodeBase(engine: Engine): Promise<string> {
  if (await hasImage(engine, BASE)) return BASE;
  return withLock(join(tmpdir(), `portwake-test-locks-${process.getuid?.() ?? 0}`, 'image-node-host'), async () => {
    if (await hasImage(engine, BASE)) return BASE;
    const root = mkdtempSync(join(tmpdir(), 'portwake-rootfs-node-'));
    try {
      buildBusyboxRoot(root);
      const node = process.execPath;
      copyInto(root, node, '/usr/bin/node');
      const ldd = spawnSync('ldd', [node], { encoding: 'utf8' });
      for (const line of ldd.stdout.split('\n')) {
        const lib = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
        if (lib !== undefined) copyInto(root, lib, lib);
      }
      // npm beside node, as Node's own images have it (the Dockerfile's build stage runs npm prune).
      const npm = join(dirname(dirname(node)), 'lib/node_modules/npm');
      if (!existsSync(npm)) throw new Error(`no npm at ${npm} (beside ${node}) for the Node base image`);
      cpSync(npm, join(root, 'usr/lib/node_modules/npm'), { recursive: true });
      symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/bin/npm'));
      symlinkSync('/bin/busybox', join(root, 'usr/bin/env'));
      await importRootfs(engine, root, BASE, ['CMD ["/usr/bin/node"]']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
    return BASE;
  });
}

function copyInto(root: string, from: string, to: string): void {
  mkdirSync(dirname(join(root, to)), { recursive: true });
  cpSync(from, join(root, to), { dereference: true });
}

/** The build context: the checkout's files as git sees them, plus its node_modules (hard links). */
async function buildContext(dir: string): Promise<void> {
  const files = ok(await runCommand('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, timeoutMs: 30_000 }), 'git ls-files');
  for (const file of files.stdout.split('\0').filter((f) => f !== '' && existsSync(join(ROOT, f)))) {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(ROOT, file), join(dir, file));
  }
  ok(await runCommand('cp', ['-al', join(ROOT, 'node_modules'), join(dir, 'node_modules')], { timeoutMs: 120_000 }), 'cp -al node_modules');
  // The repository's .dockerignore keeps a developer's node_modules out; this context brings its own.
  const ignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').filter((l) => l.trim() !== 'node_modules');
  writeFileSync(join(dir, '.dockerignore'), ignore.join('\n'));
}

describe('the Dockerfile, built offline and run against the test engine', { timeout: 20 * 60_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'portwake-image-'));
  const tag = `portwake-test/portwake:${process.pid}`;
  const buildTag = `portwake-test/portwake-build:${process.pid}`;
  let engine: Engine;
  let docker: string;

  before(async () => {
    engine = await getEngine();
    docker = dockerCli();
    const base = await ensureNodeBase(engine);
    const context = join(work, 'context');
    await buildContext(context);
    const args = ['--build-arg', `BUILD_IMAGE=${base}`, '--build-arg', `NODE_IMAGE=${base}`, '--label', 'portwake-test=1'];
    // The build stage under its own tag too, so that removing both tags leaves nothing behind.
    ok(await runCommand(docker, ['build', ...args, '--target', 'build', '-t', buildTag, context], { env: dockerEnv(engine), timeoutMs: BUILD_DEADLINE_MS }), 'docker build --target build');
    const built = ok(await runCommand(docker, ['build', ...args, '-t', tag, context], { env: dockerEnv(engine), timeoutMs: BUILD_DEADLINE_MS }), 'docker build');
    assert.match(built.stdout, /using the build context's node_modules/);
  });

  after(async () => {
    await runCommand(docker, ['rmi', tag, buildTag], { env: dockerEnv(engine), timeoutMs: 60_000 });
    rmSync(work, { recursive: true, force: true });
  });

  it('the image runs portwake without a compiler or dev dependencies in it', async () => {
    const version = ok(await runCommand(docker, ['run', '--rm', '--label', 'portwake-test=1', tag, '--version'], { env: dockerEnv(engine), timeoutMs: 60_000 }), 'docker run --version');
    assert.equal(version.stdout.trim(), (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
    const look = ok(await runCommand(docker, ['run', '--rm', '--label', 'portwake-test=1', '--entrypoint', 'sh', tag, '-c',
      'cd /opt/portwake/node_modules && ls -d pino commander typescript eslint tsx dockerode @eslint 2>/dev/null; command -v g++ cc make || true'],
    { env: dockerEnv(engine), timeoutMs: 60_000 }), 'docker run sh');
    assert.deepEqual(look.stdout.trim().split('\n').sort(), ['commander', 'pino'], look.stdout);
  });

  for (const mode of ['host', 'published'] as const) {
    it(mode === 'host' ? 'network_mode host: listens on the host, reaches the service at its own address'
      : 'published port: listens on 0.0.0.0 inside, reaches the service across the test bridge', async (t) => {
      const service = await createContainer(engine, { image: await ensureImage('busybox'), cmd: HTTPD, expose: [80], nameHint: `image-${mode}` });
      t.after(() => service.remove());
      const port = await freePort();
      const listen = mode === 'host' ? `127.0.0.1:${port}` : '0.0.0.0:8080';
      const config = join(work, `config-${mode}`);
      mkdirSync(config);
      writeFileSync(join(config, 'portwake.yaml'), `services:\n  web:\n    listen: ${listen}\n    container: ${service.name}\n    idleTimeout: 1m\n`);
      const name = `pwtest-portwake-${mode}-${process.pid}`;
      t.after(async () => { await runCommand(docker, ['rm', '-f', name], { env: dockerEnv(engine), timeoutMs: 60_000 }); });
      ok(await runCommand(docker, ['run', '-d', '--name', name, '--label', 'portwake-test=1',
        ...(mode === 'host' ? ['--network', 'host'] : ['-p', `127.0.0.1:${port}:8080`]),
        '-v', `${engine.socketPath}:/var/run/docker.sock`, '-v', `${config}:/etc/portwake:ro`, tag], { env: dockerEnv(engine), timeoutMs: 60_000 }), 'docker run');
      const logs = async (): Promise<string> => {
        const r = await runCommand(docker, ['logs', name], { env: dockerEnv(engine), timeoutMs: 30_000 });
        return `${r.stdout}${r.stderr}`;
      };
      const deadline = Date.now() + 60_000;
      while (!(await logs()).includes('listening: web')) {
        assert.ok(Date.now() < deadline, `portwake in the container did not listen within 60 s:\n${await logs()}`);
        await new Promise((r) => setTimeout(r, 250));
      }
      const res = await httpGet({ host: '127.0.0.1', port });
      assert.equal(res.status, 200, await logs());
      assert.match(res.body.toString(), /hello from portwake-test/);
      const output = await logs();
      assert.match(output, /started container/);
      // This build stage had no compiler: no addon, said once.
      assert.equal(output.split(NOT_BUILT).length - 1, 1, output);
    });
  }
});
