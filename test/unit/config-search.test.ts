// Which config file `run`, `check` and `status` read without -c: ./portwake.yaml, then
// $PORTWAKE_CONFIG, then /etc/portwake/portwake.yaml (injected here: the real /etc is not touched);
// -c always wins; none found names every place. `check` and `run` say which file they use.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import { findConfigFile } from '../../src/config/find-file.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { freePort } from '../support/daemon-harness.ts';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'main.ts');

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'pwtest-search-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function file(path: string, text = 'services:\n  web: {listen: 8080, container: web}\n'): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
  return path;
}

describe('finding the config file', () => {
  it('./portwake.yaml, then $PORTWAKE_CONFIG, then the system-wide file; -c wins over all', (t) => {
    const dir = scratch(t);
    const cwd = join(dir, 'work');
    mkdirSync(cwd);
    const system = file(join(dir, 'etc/portwake/portwake.yaml'));
    const fromEnv = file(join(dir, 'elsewhere/pw.yaml'));
    const env = { PORTWAKE_CONFIG: fromEnv };
    const find = (given?: string, e: Record<string, string> = env) => findConfigFile(given, { cwd, env: e, systemPath: system });

    assert.deepEqual(find(undefined, {}), { path: system, how: 'the system-wide file' });
    assert.deepEqual(find(), { path: fromEnv, how: '$PORTWAKE_CONFIG' });
    const local = file(join(cwd, 'portwake.yaml'));
    assert.deepEqual(find(), { path: local, how: 'in the current directory' });
    assert.deepEqual(find('other.yaml'), { path: 'other.yaml', how: 'given with -c' }, '-c is taken as given, even if it does not exist');
    rmSync(local);
    assert.deepEqual(find(undefined, { PORTWAKE_CONFIG: join(dir, 'missing.yaml') }), { path: system, how: 'the system-wide file' }, 'a $PORTWAKE_CONFIG that does not exist is skipped');
    assert.deepEqual(find(undefined, { PORTWAKE_CONFIG: 'rel/pw.yaml' }), { path: system, how: 'the system-wide file' });
    file(join(cwd, 'rel/pw.yaml'));
    assert.deepEqual(find(undefined, { PORTWAKE_CONFIG: 'rel/pw.yaml' }), { path: join(cwd, 'rel/pw.yaml'), how: '$PORTWAKE_CONFIG' }, 'relative to the working directory');
  });

  it('none found: a usage error naming the three places', (t) => {
    const dir = scratch(t);
    const system = join(dir, 'etc/portwake.yaml');
    const fail = (env: Record<string, string>, re: RegExp): void =>
      assert.throws(() => findConfigFile(undefined, { cwd: dir, env, systemPath: system }), (e: unknown) => e instanceof PortwakeError && e.code === 'USAGE' && re.test(e.message));
    fail({}, new RegExp(`^no config file: looked for ${dir}/portwake\\.yaml, \\$PORTWAKE_CONFIG \\(not set\\), ${system}; none exists\\. Write one there, or pass -c FILE$`));
    fail({ PORTWAKE_CONFIG: '/nowhere/pw.yaml' }, /looked for .*\/portwake\.yaml, \$PORTWAKE_CONFIG \(\/nowhere\/pw\.yaml\), /);
  });
});

/** portwake ARGS in cwd, with env; resolves with its exit code and output (or once `until` matches stderr, then SIGTERM). */
function portwake(t: TestContext, cwd: string, args: string[], env: Record<string, string>, until?: RegExp): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', DOCKER_HOST: `unix://${join(cwd, 'no-engine.sock')}`, ...env };
  if (env['PORTWAKE_CONFIG'] === undefined) delete base['PORTWAKE_CONFIG'];
  // tsx by its resolved URL: `--import tsx` would be looked up from cwd, outside the repository.
  const proc = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), MAIN, ...args], { cwd, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL'); });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
  proc.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
    if (until?.test(stderr) === true) proc.kill('SIGTERM');
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
  return new Promise((resolve) => proc.once('close', (code) => {
    clearTimeout(timer);
    resolve({ code, stdout, stderr });
  }));
}

describe('check and run say which file they use', { timeout: 60_000 }, () => {
  it('check: the file in the current directory, then the one $PORTWAKE_CONFIG names', async (t) => {
    const dir = scratch(t);
    const cwd = join(dir, 'here');
    const local = file(join(cwd, 'portwake.yaml'));
    const r = await portwake(t, cwd, ['check'], {});
    assert.equal(r.code, 1, 'no engine here: the check fails after validating');
    assert.match(r.stdout, new RegExp(`^config: ${local} \\(in the current directory\\)\\n${local}: valid, 1 service\\(s\\)\\n`));
    rmSync(local);
    const other = file(join(dir, 'other.yaml'));
    const e = await portwake(t, cwd, ['check'], { PORTWAKE_CONFIG: other });
    assert.match(e.stdout, new RegExp(`^config: ${other} \\(\\$PORTWAKE_CONFIG\\)\\n`));
  });

  it('run: logs the file it found, then listens and checks', async (t) => {
    const dir = scratch(t);
    const port = await freePort();
    const local = file(join(dir, 'portwake.yaml'), `services:\n  web: {listen: "127.0.0.1:${port}", container: web}\n`);
    // Stopped once the start-up check has spoken (no engine here): by then SIGTERM is handled.
    const r = await portwake(t, dir, ['run'], {}, /"msg":"start-up check: /);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string; config?: string });
    const said = lines.find((l) => l.msg.startsWith('config: '));
    assert.equal(said?.msg, `config: ${local} (in the current directory)`);
    assert.equal(said?.config, local);
  });
});
