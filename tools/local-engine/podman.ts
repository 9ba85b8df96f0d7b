// A real Podman engine for the tests: a private `podman system service` (Podman's Docker-compatible
// API) under /tmp/portwake-test-podman, started on demand as root, shared by concurrent processes
// through a directory lock and left running for reuse, like the private dockerd of engine.ts.
// Its own storage (--root/--runroot), its own containers.conf and one network of its own (the
// pwpod0 bridge, 10.215.0.0/24, internal: netavark then adds no iptables rules at all, and the host
// still reaches every container at its address). Images: images.ts imports the same offline trees
// through the API; containers: containers.ts with PODMAN_ULIMITS.

import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive, readPid, withLock } from './dir-lock.ts';
import { findBinary, makeEngine, ping, waitForPing, type Engine } from './engine.ts';

/** The shared private Podman's directory (socket, pidfile, storage, config, logs, locks). */
export const PODMAN_DIR = '/tmp/portwake-test-podman';
/** The network every container gets by default; its bridge and subnet are the harness's own. */
export const PODMAN_NETWORK = 'pwtestpod';
const PODMAN_BRIDGE = 'pwpod0';
const PODMAN_SUBNET = '10.215.0.0/24';
const PODMAN_GATEWAY = '10.215.0.1';
const START_DEADLINE_MS = 30_000;
const HOW_TO_GET_ONE = 'apt-get install podman (as root)';

/**
 * What Podman's containers need on these machines (the process limits the host passes on are too
 * high for crun/runc's rlimit handling here): given to every container through HostConfig.Ulimits.
 */
export const PODMAN_ULIMITS = [
  { Name: 'nofile', Soft: 1024, Hard: 1024 },
  { Name: 'nproc', Soft: 1024, Hard: 1024 },
];

let podmanPromise: Promise<Engine> | undefined;

/**
 * Resolves with the shared private Podman (its Docker-compatible API), starting it if needed.
 * Memoised per process. Throws (never skips) when it cannot be had, saying how to get it.
 */
export function getPodman(): Promise<Engine> {
  podmanPromise ??= findOrStartPodman();
  podmanPromise.catch(() => { podmanPromise = undefined; });
  return podmanPromise;
}

async function findOrStartPodman(): Promise<Engine> {
  const socketPath = join(PODMAN_DIR, 'podman.sock');
  if (await ping(socketPath)) return makeEngine(socketPath);
  if (process.getuid?.() !== 0) throw new Error(`no Podman engine (not root, so the private podman service cannot be started): ${HOW_TO_GET_ONE}`);
  if (findBinary('podman') === undefined) throw new Error(`no Podman engine (no podman binary on PATH): ${HOW_TO_GET_ONE}`);
  mkdirSync(PODMAN_DIR, { recursive: true });
  await withLock(join(PODMAN_DIR, 'lock'), async () => {
    if (await ping(socketPath)) return; // another process started it while we waited
    const pidFile = join(PODMAN_DIR, 'podman.pid');
    const oldPid = readPid(pidFile);
    if (oldPid !== undefined && isAlive(oldPid)) {
      if (await waitForPing(socketPath, START_DEADLINE_MS, () => isAlive(oldPid))) return;
      throw new Error(`the private podman service (pid ${oldPid}) does not answer on ${socketPath}; see ${join(PODMAN_DIR, 'podman.log')}, stop it with: kill ${oldPid}`);
    }
    rmSync(socketPath, { force: true });
    const child = await startPodmanService(socketPath, join(PODMAN_DIR, 'podman.log'));
    writeFileSync(pidFile, String(child.pid));
  });
  return makeEngine(socketPath);
}

/** The podman command line (global options) that uses the harness's storage and configuration. */
export function podmanArgs(): string[] {
  writePodmanConfig();
  return [
    '--root', join(PODMAN_DIR, 'storage'),
    '--runroot', join(PODMAN_DIR, 'run'),
    '--tmpdir', join(PODMAN_DIR, 'tmp'),
    '--cgroup-manager', 'cgroupfs',
    '--events-backend', 'file',
    '--network-config-dir', join(PODMAN_DIR, 'networks'),
  ];
}

/** The environment podman runs with: the harness's containers.conf, and sbin on PATH. */
export function podmanEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CONTAINERS_CONF: join(PODMAN_DIR, 'containers.conf'),
    PATH: `${process.env['PATH'] ?? ''}:/usr/local/sbin:/usr/sbin:/sbin`,
  };
}

/**
 * Starts one more `podman system service` on socketPath over the shared storage, detached, and
 * resolves once it answers. Several may serve the same storage at once (Podman locks it); the
 * containers belong to conmon, not to the service, so killing a service stops none of them — the
 * tests use that to take one engine away and bring it back. The caller kills it by pid.
 */
export async function startPodmanService(socketPath: string, logPath: string): Promise<{ pid: number }> {
  const args = podmanArgs();
  const log = openSync(logPath, 'a');
  const child = spawn(findBinary('podman') ?? 'podman', [...args, 'system', 'service', '--time=0', `unix://${socketPath}`], {
    detached: true,
    stdio: ['ignore', log, log],
    env: podmanEnv(),
  });
  closeSync(log);
  let exited: string | undefined;
  child.once('exit', (code, sig) => { exited = `exited with ${sig ?? code}`; });
  child.once('error', (err) => { exited = `failed to spawn: ${err.message}`; });
  child.unref();
  if (await waitForPing(socketPath, START_DEADLINE_MS, () => exited === undefined) && child.pid !== undefined) return { pid: child.pid };
  const tail = readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
  throw new Error(`podman system service ${exited ?? `did not answer within ${START_DEADLINE_MS / 1000}s`} (${logPath}):\n${tail}`);
}

/** containers.conf and the network definition (written by hand: `network create` cannot name the bridge). */
function writePodmanConfig(): void {
  const networks = join(PODMAN_DIR, 'networks');
  mkdirSync(networks, { recursive: true });
  mkdirSync(join(PODMAN_DIR, 'tmp'), { recursive: true });
  writeIfChanged(join(PODMAN_DIR, 'containers.conf'), [
    '# Written by tools/local-engine/podman.ts for the private test Podman.',
    '[containers]',
    `default_ulimits = [${PODMAN_ULIMITS.map((u) => `"${u.Name}=${u.Soft}:${u.Hard}"`).join(', ')}]`,
    '[network]',
    'network_backend = "netavark"',
    `network_config_dir = "${networks}"`,
    `default_network = "${PODMAN_NETWORK}"`,
    '[engine]',
    'cgroup_manager = "cgroupfs"',
    'events_logger = "file"',
    `tmp_dir = "${join(PODMAN_DIR, 'tmp')}"`,
    '',
  ].join('\n'));
  writeIfChanged(join(networks, `${PODMAN_NETWORK}.json`), `${JSON.stringify({
    name: PODMAN_NETWORK,
    id: Buffer.from(`portwake-test-podman-${PODMAN_NETWORK}`.padEnd(32, '-')).toString('hex').slice(0, 64),
    driver: 'bridge',
    network_interface: PODMAN_BRIDGE,
    created: '2026-01-01T00:00:00Z',
    subnets: [{ subnet: PODMAN_SUBNET, gateway: PODMAN_GATEWAY }],
    ipv6_enabled: false,
    // Not internal: an internal network gets no firewall rules at all, so no published port either.
    internal: false,
    dns_enabled: false,
    ipam_options: { driver: 'host-local' },
  }, null, 2)}\n`);
}

function writeIfChanged(path: string, text: string): void {
  try {
    if (readFileSync(path, 'utf8') === text) return;
  } catch {
    // absent: written below
  }
  writeFileSync(path, text);
}

/** Runs podman (the harness's storage and config) to completion, within 60 s; throws with its stderr on failure. */
export function runPodman(args: string[]): string {
  const r = spawnSync(findBinary('podman') ?? 'podman', [...podmanArgs(), ...args], { encoding: 'utf8', env: podmanEnv(), timeout: 60_000, killSignal: 'SIGKILL' });
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')} failed: ${r.stderr.trim() || (r.error?.message ?? `status ${r.status}`)}`);
  return r.stdout;
}

