// A container running systemd as PID 1 on the test engine's default bridge, with the host's node,
// a built portwake package, the docker CLI and the engine's socket bind-mounted into it; and the
// built package itself (tsc into a temporary directory, with the repo's node_modules beside it).

import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdtempSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type Dockerode from 'dockerode';
import type { Engine } from '../support/engine.ts';
import { dockerCli, dockerEnv, run } from '../support/systemd-image.ts';

export const REPO = resolve(import.meta.dirname, '../..');

/** Where things are inside the machine. */
export const INSIDE = {
  node: '/usr/local/bin/node',
  docker: '/usr/local/bin/docker',
  /** The built package: dist/, package.json, node_modules → DEPS. */
  portwake: '/opt/portwake',
  deps: '/opt/portwake-deps/node_modules',
  /** A host directory the test writes portwake.yaml into. */
  config: '/etc/portwake',
} as const;

export const PORTWAKE_MAIN = `${INSIDE.portwake}/dist/main.js`;

/**
 * Compiles src/ into a fresh directory laid out as an installed package: the repo's node_modules
 * are reached through a symlink to the path they are mounted at inside the machine. Returns the
 * directory; the caller removes it.
 */
export async function buildPackage(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'portwake-pkg-'));
  try {
    const tsc = join(REPO, 'node_modules/typescript/bin/tsc');
    const r = await run(process.execPath, [tsc, '-p', join(REPO, 'tsconfig.build.json'), '--outDir', join(dir, 'dist'), '--declaration', 'false', '--sourceMap', 'false'], {});
    if (r.code !== 0) throw new Error(`tsc -p tsconfig.build.json failed (exit ${r.code}):\n${r.output}`);
    copyFileSync(join(REPO, 'package.json'), join(dir, 'package.json')); // "type": "module"
    symlinkSync(INSIDE.deps, join(dir, 'node_modules'));
    return dir;
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface ExecResult { code: number; output: string }

export interface SystemdMachine {
  name: string;
  id: string;
  /** Its address on the engine's default bridge (the host reaches it directly). */
  ip: string;
  /** That bridge's gateway: the engine's host, as the machine sees it. */
  gateway: string;
  /** Boots it (docker start) and waits until systemd reports the system running; resolves with how long that took. */
  boot(): Promise<number>;
  /** docker exec; resolves with the exit code and output (never rejects on a non-zero exit). */
  exec(argv: readonly string[]): Promise<ExecResult>;
  /** docker exec that must succeed; resolves with its output. */
  sh(argv: readonly string[]): Promise<string>;
  /** `systemctl show -p …` of a unit as a record. */
  show(unit: string, props: readonly string[]): Promise<Record<string, string>>;
  /** The unit's journal as bare messages (`journalctl -o cat`). */
  journal(unit: string): Promise<string[]>;
  /** What to attach to a failure: unit states and the tail of the journal. */
  describe(units: readonly string[]): Promise<string>;
  /** Force-removes it; a machine already gone is fine. */
  remove(): Promise<void>;
}

export interface MachineOptions {
  image: string;
  /** The built package (buildPackage()). */
  pkg: string;
  /** Host directory mounted read-only at /etc/portwake. */
  configDir: string;
  nameHint: string;
}

/** Creates (does not start) the machine. Register `t.after(() => m.remove())` before boot(). */
export async function createMachine(engine: Engine, o: MachineOptions): Promise<SystemdMachine> {
  const name = `pwtest-${o.nameHint}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const binds = [
    `${realpathSync(process.execPath)}:${INSIDE.node}:ro`,
    `${realpathSync(dockerCli())}:${INSIDE.docker}:ro`,
    `${o.pkg}:${INSIDE.portwake}:ro`,
    `${join(REPO, 'node_modules')}:${INSIDE.deps}:ro`,
    `${o.configDir}:${INSIDE.config}:ro`,
    // /var/run is /run, where the tmpfs below is mounted first (Docker mounts parents first).
    `${engine.socketPath}:/var/run/docker.sock`,
  ];
  // @types/dockerode 4.0.2 does not know CgroupnsMode (Engine API 1.41 does).
  const hostConfig: Dockerode.HostConfig & { CgroupnsMode: 'private' | 'host' } = {
    Binds: binds,
    // What works here: --privileged does not; SYS_ADMIN lets systemd mount and set up namespaces.
    CapAdd: ['SYS_ADMIN'],
    CgroupnsMode: 'private',
    // A /run that is already a mount point is kept by systemd; otherwise it mounts a fresh tmpfs
    // over it, hiding the Docker socket bind-mounted below it.
    Tmpfs: { '/run': 'rw,nosuid,nodev,mode=755', '/run/lock': 'rw,nosuid,nodev,noexec' },
  };
  const container = await engine.docker.createContainer({
    name,
    Image: o.image,
    Hostname: o.nameHint,
    Labels: { 'portwake-test': '1' },
    HostConfig: hostConfig,
  });
  const env = dockerEnv(engine);
  const docker = dockerCli();
  let ip = '';
  let gateway = '';

  const exec = async (argv: readonly string[]): Promise<ExecResult> => run(docker, ['exec', name, ...argv], env);
  const sh = async (argv: readonly string[]): Promise<string> => {
    const r = await exec(argv);
    if (r.code !== 0) throw new Error(`in ${name}: ${argv.join(' ')} exited ${r.code}:\n${r.output}`);
    return r.output;
  };

  const machine: SystemdMachine = {
    name,
    id: container.id,
    get ip() { return ip; },
    get gateway() { return gateway; },
    async boot() {
      const t0 = Date.now();
      await container.start();
      const bridge = (await container.inspect()).NetworkSettings.Networks['bridge'];
      if (bridge === undefined) throw new Error(`${name} is not on the engine's default bridge`);
      ip = bridge.IPAddress;
      gateway = bridge.Gateway;
      const end = Date.now() + 30_000;
      let last: ExecResult = { code: -1, output: '' };
      while (Date.now() < end) {
        // --wait blocks until boot is over; before systemd's bus is up it fails at once: retry.
        last = await exec(['systemctl', 'is-system-running', '--wait']);
        const state = last.output.trim().split('\n').at(-1) ?? '';
        if (state === 'running' || state === 'degraded') return Date.now() - t0;
        await delay(50);
      }
      throw new Error(`systemd in ${name} did not finish booting within 30s; last: ${last.output}\n${(await container.logs({ stdout: true, stderr: true, tail: 30 })).toString()}`);
    },
    exec,
    sh,
    async show(unit, props) {
      const out = await sh(['systemctl', 'show', ...props.flatMap((p) => ['-p', p]), unit]);
      const record: Record<string, string> = {};
      for (const line of out.split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0) record[line.slice(0, eq)] = line.slice(eq + 1);
      }
      return record;
    },
    async journal(unit) {
      return (await sh(['journalctl', '--no-pager', '-o', 'cat', '-u', unit])).split('\n').filter((l) => l !== '');
    },
    async describe(units) {
      const status = await exec(['systemctl', 'status', '--no-pager', '-n', '0', ...units]);
      const journal = await exec(['journalctl', '--no-pager', '-b', '-n', '60']);
      return `--- systemctl status\n${status.output}\n--- journal\n${journal.output}`;
    },
    async remove() {
      try {
        await container.remove({ force: true, v: true });
      } catch (err) {
        const code = (err as { statusCode?: number }).statusCode;
        if (code !== 404 && code !== 409) throw err;
      }
    },
  };
  return machine;
}

/** A host directory for portwake.yaml, mounted into the machine; the caller removes it. */
export function configDir(): string {
  return mkdtempSync(join(tmpdir(), 'portwake-etc-'));
}

export interface HttpAnswer { status: number; body: string; ms: number }

/**
 * One GET on a fresh connection (no keep-alive: an idle pooled connection would keep services busy).
 * The default deadline is beyond portwake's 60 s start timeout: a slow start shows as a slow answer.
 */
export function httpGet(host: string, port: number, timeoutMs = 90_000): Promise<HttpAnswer> {
  const t0 = performance.now();
  return new Promise((resolvePromise, reject) => {
    const req = request({ host, port, path: '/', agent: false, timeout: timeoutMs, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => { body += d; });
      res.once('end', () => resolvePromise({ status: res.statusCode ?? 0, body, ms: Math.round(performance.now() - t0) }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET http://${host}:${port}/: no answer within ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

/**
 * Polls check() until it returns a value (not undefined), at most deadlineMs; on timeout rejects
 * with what and the machine's description of the units.
 */
export async function until<T>(what: string, check: () => Promise<T | undefined>, deadlineMs: number, explain: () => Promise<string>): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`${what}: not within ${deadlineMs} ms\n${await explain()}`);
    await delay(100);
  }
}

