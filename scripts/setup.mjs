// The set-up behind the README's two commands: `npm run demo` and `npm test` run it first (npm's
// predemo/pretest hooks), and `.ci/run` runs the same, so the README and CI cannot drift. It
// checks the Debian packages the demo or the tests need; as root on Debian/Ubuntu it installs the
// missing ones (one line says which), otherwise it prints the exact command and exits 1. For the
// tests it then builds the native addon when `npm ci` ran before a compiler was there.
//
//   node scripts/setup.mjs demo|tests        PORTWAKE_SETUP=skip turns the check off.
//
// Plain JavaScript without dependencies: it runs before and without `npm ci`.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** What the demo needs: a Docker engine, the offline nginx image's parts, the test engine's bridge. */
const DEMO = [
  { package: 'docker.io', satisfiedBy: ['docker-ce'], why: 'the Docker engine (dockerd, docker CLI)' },
  { package: 'busybox-static', why: 'the static busybox the offline images are built from' },
  { package: 'nginx-light', satisfiedBy: ['nginx-core', 'nginx-full', 'nginx-extras'], why: 'the nginx binary of the nginx image' },
  { package: 'iproute2', why: 'ip, which makes the private engine\'s pwtest0 bridge' },
];

/** What the tests need besides: sockets and load tools, TLS, the browser, the systemd image, the addon's compiler. */
const TESTS = [
  ...DEMO,
  { package: 'netcat-openbsd', why: 'nc in the systemd tests' },
  { package: 'wrk', why: 'load in the tests and the bench' },
  { package: 'ca-certificates', why: 'the TLS test of the Docker provider' },
  { package: 'openssl', why: 'the TLS test of the Docker provider' },
  { package: 'chromium', why: 'the dashboard\'s and the HTTP waiting page\'s browser tests' },
  { package: 'curl', why: 'a real HTTP client in the HTTP router\'s tests' },
  { package: 'mmdebstrap', why: 'the Debian image with systemd as PID 1' },
  { package: 'g++', why: 'the native data-path addon (src/native)' },
  { package: 'make', why: 'the native data-path addon (src/native)' },
  { package: 'python3', why: 'node-gyp, which builds the native addon' },
  { package: 'podman', why: 'the Podman engine of test/podman (its Docker-compatible API)' },
  { package: 'docker-compose', why: 'the compose-labels example\'s test (Debian 12: 1.29)' },
];

export const REQUIREMENTS = { demo: DEMO, tests: TESTS };

const INSTALL = ['apt-get', 'install', '-y', '--no-install-recommends'];

/**
 * Decides what to do, from facts only (no side effects):
 * - installed: the installed packages among the candidates (a Set), or undefined without dpkg;
 * - root, debianLike (os-release says debian or ubuntu and apt-get exists), aptLists (apt has package lists).
 * Returns {kind:'ready'}, {kind:'install', packages, update} or {kind:'tell', packages, command, message}.
 */
export function plan(purpose, facts) {
  const needs = REQUIREMENTS[purpose];
  if (needs === undefined) throw new Error(`unknown purpose "${purpose}" (demo or tests)`);
  if (facts.installed === undefined) {
    return {
      kind: 'tell',
      packages: needs.map((n) => n.package),
      command: undefined,
      message: `portwake setup: cannot check the packages the ${purpose} need here (no dpkg-query: not Debian or Ubuntu). ` +
        `They are the equivalents of these Debian packages: ${needs.map((n) => `${n.package} (${n.why})`).join(', ')}. ` +
        'Install them, then set PORTWAKE_SETUP=skip to run without this check.',
    };
  }
  const missing = needs.filter((n) => ![n.package, ...(n.satisfiedBy ?? [])].some((p) => facts.installed.has(p))).map((n) => n.package);
  if (missing.length === 0) return { kind: 'ready' };
  const install = [...INSTALL, ...missing].join(' ');
  if (facts.root && facts.debianLike) return { kind: 'install', packages: missing, update: !facts.aptLists };
  const command = facts.root ? `apt-get update && ${install}` : `sudo sh -c 'apt-get update && ${install}'`;
  const why = facts.debianLike ? 'not root' : 'not Debian or Ubuntu, so not installing them';
  return {
    kind: 'tell',
    packages: missing,
    command,
    message: `portwake setup: the ${purpose} need Debian packages that are not installed (${why}): ${missing.join(' ')}. Run:\n  ${command}\n` +
      'then run this again (PORTWAKE_SETUP=skip runs without this check).',
  };
}

/** The installed packages among names, asking dpkg; undefined when there is no dpkg-query. */
export function installedPackages(names) {
  const r = spawnSync('dpkg-query', ['-W', '-f', '${Package}\t${db:Status-Abbrev}\n', ...names], { encoding: 'utf8' });
  if (r.error !== undefined) return undefined;
  // Exit 1 with "no packages found matching" on stderr for names dpkg never saw: they are not installed.
  const installed = new Set();
  for (const line of r.stdout.split('\n')) {
    const [name, status] = line.split('\t');
    // Status-Abbrev: desired state, then current state ('i' = installed), then error flag.
    if (name !== undefined && status !== undefined && status[1] === 'i') installed.add(name.replace(/:.*$/, ''));
  }
  return installed;
}

function debianLike() {
  let release = '';
  try {
    release = readFileSync('/etc/os-release', 'utf8');
  } catch {
    return false;
  }
  const ids = [...release.matchAll(/^(?:ID|ID_LIKE)=(.*)$/gm)].flatMap((m) => (m[1] ?? '').replace(/"/g, '').split(/\s+/));
  return ids.some((id) => id === 'debian' || id === 'ubuntu') && spawnSync('apt-get', ['--version'], { stdio: 'ignore' }).status === 0;
}

function aptLists() {
  try {
    return readdirSync('/var/lib/apt/lists').some((f) => f.endsWith('_Packages') || f.includes('_Packages.'));
  } catch {
    return false;
  }
}

/** Runs apt-get quietly into a log; resolves with its exit status and the log's path. */
function apt(args, log) {
  const r = spawnSync(args[0], args.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive', NEEDRESTART_SUSPEND: '1' },
  });
  writeFileSync(log, `$ ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}\n`, { flag: 'a' });
  return r.status ?? 1;
}

function install(purpose, packages, update) {
  console.log(`portwake setup: installing ${packages.join(' ')} for the ${purpose} (${update ? 'apt-get update, then ' : ''}${INSTALL.join(' ')}; services are not started)`);
  const dir = mkdtempSync(join(tmpdir(), 'portwake-setup-'));
  const log = join(dir, 'apt.log');
  // Package scripts must not start services (nginx on :80, a system dockerd): a policy-rc.d that
  // refuses, unless the machine has one of its own.
  const policy = '/usr/sbin/policy-rc.d';
  const ownPolicy = !existsSync(policy);
  if (ownPolicy) {
    writeFileSync(policy, '#!/bin/sh\nexit 101\n');
    chmodSync(policy, 0o755);
  }
  try {
    let status = update ? apt(['apt-get', 'update'], log) : 0;
    if (status === 0) status = apt([...INSTALL, ...packages], log);
    if (status !== 0 && !update) {
      // Stale package lists (a 404 from the mirror, an unknown package): once more after an update.
      status = apt(['apt-get', 'update'], log);
      if (status === 0) status = apt([...INSTALL, ...packages], log);
    }
    if (status !== 0) {
      const tail = readFileSync(log, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      console.error(`${tail}\nportwake setup: apt-get failed (exit ${status}) installing ${packages.join(' ')}; its whole output: ${log}`);
      return false;
    }
    rmSync(dir, { recursive: true, force: true });
    return true;
  } finally {
    if (ownPolicy) rmSync(policy, { force: true });
  }
}

/**
 * The tests need the native addon; `npm ci` only warns when it cannot build it (no compiler yet).
 * Before `npm ci` (no node_modules) there is nothing to do: its install script builds it.
 */
function buildAddonIfMissing(root) {
  if (process.platform !== 'linux' || !existsSync(join(root, 'node_modules'))) return true;
  if (existsSync(join(root, 'build/Release/portwake_native.node'))) return true;
  console.log('portwake setup: building the native data-path addon (npm ci ran before a compiler was installed)');
  const r = spawnSync(process.execPath, [join(root, 'scripts/build-native.mjs'), '--strict'], { stdio: 'inherit', cwd: root });
  return r.status === 0;
}

function main(argv) {
  const purpose = argv[0];
  if (purpose !== 'demo' && purpose !== 'tests') {
    console.error('usage: node scripts/setup.mjs demo|tests');
    return 2;
  }
  if (process.env.PORTWAKE_SETUP === 'skip') return 0;
  const needs = REQUIREMENTS[purpose];
  const installed = installedPackages(needs.flatMap((n) => [n.package, ...(n.satisfiedBy ?? [])]));
  const decision = plan(purpose, { installed, root: process.getuid?.() === 0, debianLike: debianLike(), aptLists: aptLists() });
  if (decision.kind === 'tell') {
    console.error(decision.message);
    return 1;
  }
  if (decision.kind === 'install' && !install(purpose, decision.packages, decision.update)) return 1;
  if (purpose === 'tests' && !buildAddonIfMissing(resolve(import.meta.dirname, '..'))) return 1;
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exit(main(process.argv.slice(2)));
}
