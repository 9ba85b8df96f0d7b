// scripts/setup.mjs, the set-up behind `npm run demo`, `npm test` and .ci/run: its decision from
// stubbed facts (nothing is installed or removed here), the real dpkg-query it asks, and the
// script's exit status on this machine (everything installed) and without dpkg.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { installedPackages, plan, REQUIREMENTS, type Facts } from '../../scripts/setup.mjs';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/setup.mjs');
const all = (purpose: 'demo' | 'tests'): Set<string> => new Set(REQUIREMENTS[purpose].map((r) => r.package));
const without = (set: Set<string>, ...names: string[]): Set<string> => new Set([...set].filter((n) => !names.includes(n)));
const facts = (over: Partial<Facts>): Facts => ({ installed: all('tests'), root: true, debianLike: true, aptLists: true, ...over });

describe('set-up decision', () => {
  it('is ready when every package is installed, and asks for nothing', () => {
    assert.deepEqual(plan('demo', facts({})), { kind: 'ready' });
    assert.deepEqual(plan('tests', facts({ root: false, debianLike: false })), { kind: 'ready' });
  });

  it('the demo needs the engine, busybox, nginx and iproute2; the tests those and the rest of .ci/run\'s former list', () => {
    assert.deepEqual(REQUIREMENTS.demo.map((r) => r.package), ['docker.io', 'busybox-static', 'nginx-light', 'iproute2']);
    assert.deepEqual(REQUIREMENTS.tests.map((r) => r.package), ['docker.io', 'busybox-static', 'nginx-light', 'iproute2', 'netcat-openbsd',
      'wrk', 'ca-certificates', 'openssl', 'chromium', 'curl', 'mmdebstrap', 'g++', 'make', 'python3', 'podman', 'docker-compose']);
    // The demo does not wait for the tests' packages.
    assert.deepEqual(plan('demo', facts({ installed: without(all('tests'), 'chromium', 'mmdebstrap') })), { kind: 'ready' });
  });

  it('as root on Debian installs exactly the missing ones, updating apt first only when it has no lists', () => {
    assert.deepEqual(plan('tests', facts({ installed: without(all('tests'), 'wrk', 'chromium') })), { kind: 'install', packages: ['wrk', 'chromium'], update: false });
    assert.deepEqual(plan('demo', facts({ installed: new Set(), aptLists: false })),
      { kind: 'install', packages: ['docker.io', 'busybox-static', 'nginx-light', 'iproute2'], update: true });
  });

  it('counts a package that provides the same: docker-ce for docker.io, nginx-full for nginx-light', () => {
    const installed = new Set([...without(all('demo'), 'docker.io', 'nginx-light'), 'docker-ce', 'nginx-full']);
    assert.deepEqual(plan('demo', facts({ installed })), { kind: 'ready' });
  });

  it('not root: prints the exact command, with sudo, and installs nothing', () => {
    const d = plan('demo', facts({ root: false, installed: without(all('demo'), 'nginx-light') }));
    assert.equal(d.kind, 'tell');
    assert.ok(d.kind === 'tell');
    assert.equal(d.command, "sudo sh -c 'apt-get update && apt-get install -y --no-install-recommends nginx-light'");
    assert.match(d.message, /not root\): nginx-light\. Run:\n {2}sudo sh -c/);
  });

  it('not Debian: says what is needed and installs nothing, even as root', () => {
    const noDpkg = plan('tests', facts({ installed: undefined }));
    assert.equal(noDpkg.kind, 'tell');
    assert.ok(noDpkg.kind === 'tell');
    assert.match(noDpkg.message, /no dpkg-query.*docker\.io \(the Docker engine.*PORTWAKE_SETUP=skip/s);
    const other = plan('demo', facts({ debianLike: false, installed: new Set() }));
    assert.equal(other.kind, 'tell');
  });
});

describe('set-up on this machine', () => {
  it('dpkg-query tells installed packages from absent ones', () => {
    const installed = installedPackages(['dpkg', 'portwake-no-such-package']);
    assert.ok(installed !== undefined, 'dpkg-query runs on Debian');
    assert.deepEqual([...installed], ['dpkg']);
  });

  it('the script exits 0 and says nothing when everything is there (CI has installed it)', () => {
    for (const purpose of ['demo', 'tests']) {
      const r = spawnSync(process.execPath, [SCRIPT, purpose], { encoding: 'utf8', env: { ...process.env, PORTWAKE_SETUP: '' } });
      assert.equal(r.status, 0, `${purpose}: ${r.stdout}${r.stderr}`);
      assert.equal(`${r.stdout}${r.stderr}`, '');
    }
  });

  it('without dpkg-query the script stops with status 1 and says what is needed', (t) => {
    // A PATH with node only: no dpkg-query, no apt-get.
    const bin = mkdtempSync(join(tmpdir(), 'portwake-setup-path-'));
    t.after(() => rmSync(bin, { recursive: true, force: true }));
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = spawnSync(join(bin, 'node'), [SCRIPT, 'demo'], { encoding: 'utf8', env: { PATH: bin } });
    assert.equal(r.status, 1, `${r.stdout}${r.stderr}`);
    assert.match(r.stderr, /no dpkg-query.*docker\.io.*busybox-static.*nginx-light.*iproute2/s);
    const skipped = spawnSync(join(bin, 'node'), [SCRIPT, 'demo'], { encoding: 'utf8', env: { PATH: bin, PORTWAKE_SETUP: 'skip' } });
    assert.equal(skipped.status, 0);
  });
});
