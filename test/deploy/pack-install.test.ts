// The command as a newcomer gets it. From a clone: `npm ci` builds dist/ (npm's `prepare`), so
// `npx portwake` works there, and `npm run portwake` runs in the caller's directory. Installed:
// `npm pack` → `npm install -g` of the tarball into a temporary prefix → `portwake --version`,
// `portwake check` and `portwake run` waking a real container of the test engine, once with a C
// compiler (the native data path) and once on a PATH without one (the install still succeeds;
// portwake moves bytes in JavaScript and says so once).

import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createContainer, ensureImage, getEngine } from '../support/engine.ts';
import { freePort, httpGet } from '../support/daemon-harness.ts';
import { ok, pathWithoutCompiler, runCommand, startDaemon } from './commands.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const INSTALL_DEADLINE_MS = 5 * 60_000;
const HTTPD = ['sh', '-c', 'trap "exit 0" TERM; httpd -f -p 80 -h /www & wait'];

describe('from a clone: npm ci, npx portwake, npm pack, npm install -g', { timeout: 15 * 60_000 }, () => {
  const work = mkdtempSync(join(tmpdir(), 'portwake-pack-'));
  const clone = join(work, 'clone');
  const noCompiler = pathWithoutCompiler(join(work, 'path-without-cc'));
  let tarball = '';

  /** The checkout's files as git sees them (committed or not, ignored ones left out): a fresh clone. */
  async function cloneInto(dir: string): Promise<void> {
    const files = ok(await runCommand('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, timeoutMs: 30_000 }), 'git ls-files');
    for (const file of files.stdout.split('\0').filter((f) => f !== '' && existsSync(join(ROOT, f)))) {
      mkdirSync(dirname(join(dir, file)), { recursive: true });
      copyFileSync(join(ROOT, file), join(dir, file));
    }
  }

  before(async () => {
    await cloneInto(clone);
    // No compiler for this one: the addon build fails at once (the tests below build it or not).
    ok(await runCommand('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: clone, env: { ...process.env, PATH: noCompiler }, timeoutMs: INSTALL_DEADLINE_MS }), 'npm ci');
    // dist/ is there now (prepare), so packing needs no second build.
    const packed = ok(await runCommand('npm', ['pack', '--ignore-scripts', '--pack-destination', work], { cwd: clone, timeoutMs: INSTALL_DEADLINE_MS }), 'npm pack');
    tarball = join(work, packed.stdout.trim().split('\n').pop() ?? '');
    assert.ok(existsSync(tarball), `npm pack wrote ${tarball}:\n${packed.stdout}`);
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('npx portwake works in the clone right after npm ci', async () => {
    // npx installs the clone as a directory dependency and so runs its prepare again: dist/ is up to date.
    const r = ok(await runCommand('npx', ['--offline', 'portwake', '--version'], { cwd: join(clone, 'src'), timeoutMs: 180_000 }), 'npx portwake --version');
    assert.equal(r.stdout.trim(), VERSION);
  });

  it('npm ci --omit=dev in a clone succeeds without building dist/, and says how to build it', async () => {
    const prod = join(work, 'production-clone');
    await cloneInto(prod);
    const r = ok(await runCommand('npm', ['ci', '--omit=dev', '--foreground-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: prod, env: { ...process.env, PATH: noCompiler }, timeoutMs: INSTALL_DEADLINE_MS }), 'npm ci --omit=dev');
    assert.match(r.stdout + r.stderr, /TypeScript is not installed .*run `npm ci` \(with dev dependencies\) then `npm run build`/);
    assert.equal(existsSync(join(prod, 'dist/main.js')), false);
  });

  it('npm run portwake runs in the directory it is started from', async () => {
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'portwake.yaml'), 'services:\n  web:\n    listen: 127.0.0.1:1\n    container: x\n    idleTimeout: ten\n');
    const r = await runCommand('npm', ['--prefix', clone, 'run', '--silent', 'portwake', '--', 'check'], { cwd: elsewhere, timeoutMs: 60_000 });
    // The file of *this* directory was read: its mistake is reported.
    assert.equal(r.code, 2, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /portwake\.yaml:5:18: services\.web\.idleTimeout/);
  });

  for (const compiler of [true, false]) {
    it(compiler ? 'installed with a C compiler: the native data path' : 'installed without a C compiler: it installs, falls back to JavaScript, says so once', async (t) => {
      const prefix = join(work, compiler ? 'with-cc' : 'without-cc');
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: compiler ? (process.env['PATH'] ?? '') : noCompiler, NO_COLOR: '1' };
      ok(await runCommand('npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { env, timeoutMs: INSTALL_DEADLINE_MS }), 'npm install -g');
      const addon = join(prefix, 'lib/node_modules/portwake/build/Release/portwake_native.node');
      assert.equal(existsSync(addon), compiler, compiler ? 'the install built the addon' : 'nothing could build the addon');
      const portwake = join(prefix, 'bin/portwake');

      const version = ok(await runCommand(portwake, ['--version'], { env, timeoutMs: 30_000 }), 'portwake --version');
      assert.equal(version.stdout.trim(), VERSION);

      const engine = await getEngine();
      const container = await createContainer(engine, { image: await ensureImage('busybox'), cmd: HTTPD, expose: [80], nameHint: 'pack' });
      t.after(() => container.remove());
      const port = await freePort();
      const config = join(prefix, 'portwake.yaml');
      writeFileSync(config, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${container.name}\n    idleTimeout: 1m\n`);
      const daemonEnv = { ...env, DOCKER_HOST: engine.dockerHost };
      const check = ok(await runCommand(portwake, ['check', '-c', config], { env: daemonEnv, timeoutMs: 30_000 }), 'portwake check');
      assert.match(check.stdout, /valid, 1 service/);

      const daemon = await startDaemon(t, portwake, ['run', '-c', config], { env: daemonEnv, listening: /listening: web/, timeoutMs: 30_000 });
      const res = await httpGet({ host: '127.0.0.1', port });
      assert.equal(res.status, 200);
      assert.match(res.body.toString(), /hello from portwake-test/);
      await daemon.stop();
      const listening = daemon.output().split('\n').find((l) => l.includes('listening: web')) ?? '';
      const fallbacks = daemon.output().split('the native addon is not built').length - 1;
      if (compiler) {
        assert.match(listening, /"dataPath":"native"/);
        assert.equal(fallbacks, 0);
      } else {
        assert.match(listening, /"dataPath":"javascript \(the native addon is not built .*`npm rebuild -g portwake` for a global install/);
        assert.equal(fallbacks, 1, `said once:\n${daemon.output()}`);
      }
    });
  }
});
