// A real Docker engine for development (the tests, the demo, the bench): DOCKER_HOST if it answers,
// else a private dockerd on the pwtest0 bridge that is started once, shared by concurrent processes
// and left running for reuse. Images: images.ts; labelled containers: containers.ts.

import { spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Dockerode from 'dockerode';
import { isAlive, readPid, withLock } from './dir-lock.ts';

export interface Engine {
  /** DOCKER_HOST-style address, e.g. "unix:///tmp/portwake-test-engine/docker.sock". */
  dockerHost: string;
  socketPath: string;
  docker: Dockerode;
}

/**
 * Who a container or image is for; its names and label say so, and each user cleans up its own.
 * The tests: pwtest-…, portwake-test=1, portwake-test/*; the demo: portwake-demo-…, portwake-demo/*.
 */
export interface Owner {
  /** Container names are <containerPrefix>-[<hint>-]<pid>-<random>. */
  containerPrefix: string;
  /** Every container carries the label <label>=1. */
  label: string;
  /** Images are <imageRepo>/<name>:<version>; their index page says "hello from <imageRepo>". */
  imageRepo: string;
}

/** The shared private engine's directory (socket, pidfile, data, logs, locks). */
export const ENGINE_DIR = '/tmp/portwake-test-engine';
const BRIDGE = 'pwtest0';
const BRIDGE_CIDR = '10.213.0.1/24';
const BRIDGE_MAC = '02:42:0a:d5:00:01';
const START_DEADLINE_MS = 30_000;
const HOW_TO_GET_ONE = 'apt-get install docker.io (as root), or set DOCKER_HOST to a reachable engine';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let enginePromise: Promise<Engine> | undefined;

/**
 * Resolves with a reachable engine, starting the private one if needed. Memoised per process.
 * Throws (never skips) when no engine can be had, saying how to get one.
 */
export function getEngine(): Promise<Engine> {
  enginePromise ??= findOrStartEngine();
  enginePromise.catch(() => { enginePromise = undefined; });
  return enginePromise;
}

async function findOrStartEngine(): Promise<Engine> {
  const fromEnv = process.env['DOCKER_HOST'];
  const notes: string[] = [];
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!fromEnv.startsWith('unix://')) {
      notes.push(`DOCKER_HOST=${fromEnv} ignored: a unix:// socket is needed`);
    } else if (await ping(fromEnv.slice('unix://'.length))) {
      return makeEngine(fromEnv.slice('unix://'.length));
    } else {
      notes.push(`DOCKER_HOST=${fromEnv} does not answer /_ping`);
    }
  }
  const socketPath = join(ENGINE_DIR, 'docker.sock');
  if (await ping(socketPath)) {
    pinBridgeMac();
    allowBridgeForwarding();
    return makeEngine(socketPath);
  }

  const problem = cannotStartReason();
  if (problem !== undefined) {
    throw new Error(`no Docker engine (${[...notes, problem].join('; ')}): ${HOW_TO_GET_ONE}`);
  }
  mkdirSync(ENGINE_DIR, { recursive: true });
  await withLock(join(ENGINE_DIR, 'lock'), async () => {
    if (await ping(socketPath)) return; // another process started it while we waited
    await startPrivateEngine(socketPath);
  });
  return makeEngine(socketPath);
}

export function makeEngine(socketPath: string): Engine {
  // Every env-derived modem option is overridden: docker-modem reads DOCKER_HOST/DOCKER_CERT_PATH itself.
  const docker = new Dockerode({ socketPath, host: undefined, port: undefined, protocol: 'http', ca: undefined, cert: undefined, key: undefined });
  return { dockerHost: `unix://${socketPath}`, socketPath, docker };
}

function cannotStartReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root, so the private dockerd cannot be started';
  if (findBinary('dockerd') === undefined) return 'no dockerd binary on PATH';
  if (findBinary('ip') === undefined) return 'no ip binary (iproute2) to create the pwtest0 bridge';
  return undefined;
}

/** An executable on PATH or in the usual system directories (sudo and CI may drop /usr/sbin). */
export function findBinary(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':'), ...SYSTEM_PATH.split(':')];
  for (const dir of dirs) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function startPrivateEngine(socketPath: string): Promise<void> {
  ensureBridge();
  const pidFile = join(ENGINE_DIR, 'docker.pid');
  const oldPid = readPid(pidFile);
  if (oldPid !== undefined && isAlive(oldPid)) {
    // A dockerd of ours is still coming up (or hung): wait for it rather than fight over the pidfile.
    if (await waitForPing(socketPath, START_DEADLINE_MS, () => isAlive(oldPid))) return;
    throw new Error(`the private dockerd (pid ${oldPid}) does not answer on ${socketPath}; see ${join(ENGINE_DIR, 'dockerd.log')}, ` +
      `stop it with: kill ${oldPid}`);
  }
  rmSync(pidFile, { force: true });
  rmSync(socketPath, { force: true });

  const logPath = join(ENGINE_DIR, 'dockerd.log');
  const log = openSync(logPath, 'a');
  const dockerd = findBinary('dockerd') ?? 'dockerd';
  const child = spawn(dockerd, [
    '--data-root', join(ENGINE_DIR, 'data'),
    '--exec-root', join(ENGINE_DIR, 'exec'),
    '--host', `unix://${socketPath}`,
    '--pidfile', pidFile,
    '--bridge', BRIDGE,
    '--iptables=false',
    '--ip6tables=false',
  ], {
    // Detached (own session) and unref'd: the engine outlives this process for reuse.
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, PATH: `${process.env['PATH'] ?? ''}:${SYSTEM_PATH}` },
  });
  closeSync(log);
  let exited: string | undefined;
  child.once('exit', (code, sig) => { exited = `exited with ${sig ?? code}`; });
  child.once('error', (err) => { exited = `failed to spawn: ${err.message}`; });
  child.unref();
  if (await waitForPing(socketPath, START_DEADLINE_MS, () => exited === undefined)) return;
  const tail = readFileSync(logPath, 'utf8').split('\n').slice(-15).join('\n');
  throw new Error(`private dockerd ${exited ?? `did not answer within ${START_DEADLINE_MS / 1000}s`} (${logPath}):\n${tail}`);
}

function ensureBridge(): void {
  const ip = findBinary('ip') ?? 'ip';
  if (spawnSync(ip, ['link', 'show', BRIDGE], { stdio: 'ignore' }).status !== 0) {
    run(ip, ['link', 'add', BRIDGE, 'type', 'bridge']);
  }
  pinBridgeMac();
  allowBridgeForwarding();
  const addrs = spawnSync(ip, ['-4', 'addr', 'show', 'dev', BRIDGE], { encoding: 'utf8' }).stdout;
  if (!addrs.includes(BRIDGE_CIDR)) run(ip, ['addr', 'add', BRIDGE_CIDR, 'dev', BRIDGE]);
  run(ip, ['link', 'set', BRIDGE, 'up']);
}

/**
 * A bridge without a MAC of its own takes its lowest port's, which changes as containers come and
 * go; containers then send replies for 10.213.0.1 to a MAC the bridge no longer accepts and TCP
 * stalls for seconds until ARP is refreshed. A fixed address (addr_assign_type 3: set by user)
 * avoids it. Also applied to a reused engine's bridge (best effort: it needs root).
 */
function pinBridgeMac(): void {
  try {
    if (readFileSync(`/sys/class/net/${BRIDGE}/addr_assign_type`, 'utf8').trim() === '3') return;
    run(findBinary('ip') ?? 'ip', ['link', 'set', BRIDGE, 'address', BRIDGE_MAC]);
  } catch {
    // no such bridge (an engine of the developer's own) or not root: nothing to pin
  }
}

/** The comment that marks the harness's own iptables rule (.ci/run deletes rules carrying it). */
export const FORWARD_RULE_COMMENT = 'portwake-test-engine';

/**
 * A standard dockerd next to the private one (iptables on) loads br_netfilter, so traffic between
 * two containers on pwtest0 passes the iptables FORWARD chain, whose policy it sets to DROP: the
 * systemd container then gets no answer from the containers it wakes. One ACCEPT rule for traffic
 * within pwtest0 fixes it, in DOCKER-USER (the chain Docker keeps for its users and runs first)
 * when that exists, else at the top of FORWARD. Added only when bridged traffic is filtered at all
 * (bridge-nf-call-iptables is 1), once (checked with -C first), on every getEngine() (a standard
 * engine may start after the private one). It is left in place with the engine, which is also
 * left running; it names only pwtest0, so it does nothing once the bridge is gone. .ci/run deletes
 * it when it stops the engine it started. Best effort: not root or no iptables, nothing to do.
 */
function allowBridgeForwarding(): void {
  try {
    if (readFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', 'utf8').trim() !== '1') return;
  } catch {
    return; // no br_netfilter: bridged traffic never reaches iptables
  }
  const iptables = findBinary('iptables');
  if (iptables === undefined || process.getuid?.() !== 0) return;
  const chain = spawnSync(iptables, ['-w', '-n', '-L', 'DOCKER-USER'], { stdio: 'ignore' }).status === 0 ? 'DOCKER-USER' : 'FORWARD';
  const rule = ['-i', BRIDGE, '-o', BRIDGE, '-m', 'comment', '--comment', FORWARD_RULE_COMMENT, '-j', 'ACCEPT'];
  if (spawnSync(iptables, ['-w', '-C', chain, ...rule], { stdio: 'ignore' }).status === 0) return;
  run(iptables, ['-w', '-I', chain, '1', ...rule]);
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.trim() || (r.error?.message ?? `status ${r.status}`)}`);
}

export async function waitForPing(socketPath: string, deadlineMs: number, stillHopeful: () => boolean): Promise<boolean> {
  const end = Date.now() + deadlineMs;
  while (Date.now() < end && stillHopeful()) {
    if (await ping(socketPath)) return true;
    await delay(200);
  }
  return ping(socketPath);
}

/** True when an engine answers GET /_ping on the socket within 2 s. */
export function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET', timeout: 2000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve(false));
    req.end();
  });
}
