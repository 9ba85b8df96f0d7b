// The image for tests that need a real systemd as PID 1: Debian bookworm (minbase plus systemd,
// dbus, iproute2, procps, busybox) built offline from Debian's mirror with mmdebstrap, imported
// with `CMD ["/lib/systemd/systemd"]`, then given STOPSIGNAL SIGRTMIN+3 by a one-line legacy build
// (the 20.10 engine refuses `docker import --change STOPSIGNAL`). Built once per engine and kept.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { withLock } from '../../tools/local-engine/dir-lock.ts';
import { findBinary, type Engine } from './engine.ts';
import { hasImage } from './test-images.ts';

/** Bump when the recipe below changes, so engines that are reused get the new image. */
export const SYSTEMD_IMAGE = 'portwake-test/systemd-bookworm:1';
const ROOTFS_IMAGE = 'portwake-test/systemd-bookworm-rootfs:1';
const SUITE = 'bookworm';
const PACKAGES = ['systemd', 'systemd-sysv', 'dbus', 'iproute2', 'procps', 'busybox'];
/** Documentation is of no use in a test image and is a quarter of its size. */
const EXCLUDED = ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/info/*', '/usr/share/locale/*'];
const DEFAULT_MIRROR = 'http://deb.debian.org/debian';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** Downloading and unpacking ~60 packages: half a minute on a good day, more on a slow mirror. */
const BUILD_DEADLINE_MS = 10 * 60_000;

export interface SystemdImage {
  ref: string;
  /** How long each step took when this call built the image; undefined when it was there already. */
  built: { mmdebstrapMs: number; importMs: number; stopSignalMs: number; totalMs: number } | undefined;
}

/**
 * Returns the systemd image, building it if the engine lacks it (concurrent callers take turns
 * through a lock; the second finds it built). Throws — never skips — saying what is missing when
 * mmdebstrap, the docker CLI or Debian's mirror is not there.
 */
export async function ensureSystemdImage(engine: Engine): Promise<SystemdImage> {
  if (await hasImage(engine, SYSTEMD_IMAGE)) return { ref: SYSTEMD_IMAGE, built: undefined };
  const engineKey = createHash('sha256').update(engine.dockerHost).digest('hex').slice(0, 12);
  const lockDir = join(tmpdir(), `portwake-test-locks-${process.getuid?.() ?? 0}`, `image-systemd-bookworm-${engineKey}`);
  return withLock(lockDir, async () => {
    if (await hasImage(engine, SYSTEMD_IMAGE)) return { ref: SYSTEMD_IMAGE, built: undefined };
    return { ref: SYSTEMD_IMAGE, built: await build(engine) };
  }, BUILD_DEADLINE_MS);
}

/** The docker CLI (first on PATH, then the usual places); the image build and `docker exec` use it. */
export function dockerCli(): string {
  const found = findBinary('docker');
  if (found === undefined) throw new Error('no docker CLI on PATH (the systemd tests use it for the image build and docker exec): apt-get install docker.io (as root)');
  return found;
}

/** The environment for the docker CLI: the test engine, the legacy builder. */
export function dockerEnv(engine: Engine): NodeJS.ProcessEnv {
  return { ...process.env, DOCKER_HOST: engine.dockerHost, DOCKER_BUILDKIT: '0', PATH: withSystemPath() };
}

async function build(engine: Engine): Promise<NonNullable<SystemdImage['built']>> {
  const mmdebstrap = findBinary('mmdebstrap');
  if (mmdebstrap === undefined) {
    throw new Error(`the systemd test image (${SYSTEMD_IMAGE}) is built with mmdebstrap, which is not installed: apt-get install mmdebstrap (as root)`);
  }
  const docker = dockerCli();
  const mirror = process.env['PORTWAKE_TEST_DEBIAN_MIRROR'] ?? DEFAULT_MIRROR;
  const dir = mkdtempSync(join(tmpdir(), 'portwake-systemd-image-'));
  try {
    const tar = join(dir, 'rootfs.tar');
    const t0 = Date.now();
    const debootstrap = await run(mmdebstrap, [
      '--variant=minbase',
      `--include=${PACKAGES.join(',')}`,
      ...EXCLUDED.map((p) => `--dpkgopt=path-exclude=${p}`),
      SUITE, tar, mirror,
    ], { PATH: withSystemPath() });
    if (debootstrap.code !== 0) {
      throw new Error(`mmdebstrap could not build the Debian ${SUITE} root filesystem for ${SYSTEMD_IMAGE} from ${mirror} ` +
        `(exit ${debootstrap.code}); it needs Debian's mirror once per engine (set PORTWAKE_TEST_DEBIAN_MIRROR for another one). ` +
        `Last output:\n${tail(debootstrap.output, 15)}`);
    }
    const t1 = Date.now();
    const env = dockerEnv(engine);
    const imported = await run(docker, ['import', '--change', 'CMD ["/lib/systemd/systemd"]', tar, ROOTFS_IMAGE], env);
    if (imported.code !== 0) throw new Error(`docker import of ${ROOTFS_IMAGE} failed (exit ${imported.code}):\n${tail(imported.output, 15)}`);
    const t2 = Date.now();
    // systemd shuts down cleanly on SIGRTMIN+3; on SIGTERM (docker stop's default) it re-executes.
    const dockerfile = `FROM ${ROOTFS_IMAGE}\nSTOPSIGNAL SIGRTMIN+3\n`;
    const built = await run(docker, ['build', '--tag', SYSTEMD_IMAGE, '-'], env, dockerfile);
    if (built.code !== 0) throw new Error(`docker build of ${SYSTEMD_IMAGE} (legacy builder) failed (exit ${built.code}):\n${tail(built.output, 15)}`);
    const t3 = Date.now();
    return { mmdebstrapMs: t1 - t0, importMs: t2 - t1, stopSignalMs: t3 - t2, totalMs: t3 - t0 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs a command to completion; resolves with its exit code and its interleaved output. */
export function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { output += d; });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal === null ? -1 : 128), output }));
    child.stdin.end(input ?? '');
  });
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

function withSystemPath(): string {
  return `${process.env['PATH'] ?? ''}:${SYSTEM_PATH}`;
}

