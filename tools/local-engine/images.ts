// Images built offline: a root filesystem assembled from host binaries (Debian's static busybox,
// the host's nginx and its libraries) and piped as a tar into `docker import`, named per Owner.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { withLock } from './dir-lock.ts';
import type { Engine, Owner } from './engine.ts';

export type LocalImage = 'busybox' | 'nginx';

/** Bump when a recipe below changes, so stale images on a reused engine are rebuilt. */
export const IMAGE_VERSION = '1';

/**
 * Returns <owner.imageRepo>/<name>:<IMAGE_VERSION>, building it offline (docker import) if absent.
 * Concurrent callers (other processes too) build it once, under a lock per image and engine.
 */
export async function ensureImage(engine: Engine, name: LocalImage, owner: Owner): Promise<string> {
  const ref = `${owner.imageRepo}/${name}:${IMAGE_VERSION}`;
  if (await hasImage(engine, ref)) return ref;
  const engineKey = createHash('sha256').update(engine.dockerHost).digest('hex').slice(0, 12);
  const lockDir = join(tmpdir(), `${owner.imageRepo}-locks-${process.getuid?.() ?? 0}`, `image-${name}-${engineKey}`);
  await withLock(lockDir, async () => {
    if (!(await hasImage(engine, ref))) await buildImage(engine, name, ref, owner.imageRepo);
  });
  return ref;
}

/** Assembles the image's root filesystem from host binaries and imports it under ref. */
async function buildImage(engine: Engine, name: LocalImage, ref: string, greeter: string): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), `portwake-rootfs-${name}-`));
  try {
    buildBusyboxRoot(root, greeter);
    if (name === 'nginx') buildNginxRoot(root);
    const changes = name === 'nginx'
      ? ['EXPOSE 80', 'CMD ["/usr/sbin/nginx", "-e", "stderr", "-c", "/etc/nginx/nginx.conf"]']
      : ['EXPOSE 80', 'CMD ["/bin/sh"]'];
    await importRootfs(engine, root, ref, changes);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

export async function hasImage(engine: Engine, ref: string): Promise<boolean> {
  try {
    await engine.docker.getImage(ref).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}

/** A busybox tree whose /www/index.html says "hello from <greeter>". */
export function buildBusyboxRoot(root: string, greeter: string): void {
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (busybox === undefined || !isStatic(busybox)) {
    throw new Error('a static /bin/busybox is needed for the images built offline: apt-get install busybox-static (as root)');
  }
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'www', 'proc', 'sys', 'dev', 'root', 'var/run', 'run']) {
    mkdirSync(join(root, dir), { recursive: true });
  }
  mkdirSync(join(root, 'tmp'), { mode: 0o1777 });
  chmodSync(join(root, 'tmp'), 0o1777);
  copyFileSync(busybox, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const applets = spawnSync(busybox, ['--list'], { encoding: 'utf8' }).stdout.split('\n').filter((a) => /^[\w.[-]+$/.test(a) && a !== 'busybox');
  for (const applet of applets) symlinkSync('busybox', join(root, 'bin', applet));
  writeFileSync(join(root, 'etc/passwd'), [
    'root:x:0:0:root:/root:/bin/sh',
    'www-data:x:33:33:www-data:/var/www:/bin/false',
    'nobody:x:65534:65534:nobody:/nonexistent:/bin/false',
    '',
  ].join('\n'));
  writeFileSync(join(root, 'etc/group'), ['root:x:0:', 'www-data:x:33:', 'nogroup:x:65534:', 'nobody:x:65534:', ''].join('\n'));
  writeFileSync(join(root, 'www/index.html'), `<!doctype html><title>${greeter}</title><p>hello from ${greeter}</p>\n`);
}

function isStatic(binary: string): boolean {
  // Debian's busybox package is dynamic; only busybox-static runs in an image without libc.
  const r = spawnSync('ldd', [binary], { encoding: 'utf8' });
  return `${r.stdout}${r.stderr}`.includes('not a dynamic executable');
}

function buildNginxRoot(root: string): void {
  const nginx = '/usr/sbin/nginx';
  if (!existsSync(nginx)) throw new Error('the nginx image needs the host nginx: apt-get install nginx-light (as root)');
  copyInto(root, nginx);
  const ldd = spawnSync('ldd', [nginx], { encoding: 'utf8' });
  if (ldd.status !== 0) throw new Error(`ldd ${nginx} failed: ${ldd.stderr}`);
  for (const line of ldd.stdout.split('\n')) {
    const lib = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1];
    if (lib !== undefined) copyInto(root, lib);
  }
  for (const dir of ['var/lib/nginx', 'var/log/nginx', 'var/lock', 'etc/nginx']) mkdirSync(join(root, dir), { recursive: true });
  writeFileSync(join(root, 'etc/nginx/nginx.conf'), [
    'daemon off;',
    'worker_processes 1;',
    'pid /tmp/nginx.pid;',
    'error_log stderr;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    '  default_type text/html;',
    '  server {',
    '    listen 80;',
    '    root /www;',
    '  }',
    '}',
    '',
  ].join('\n'));
}

/** Copies a host file to the same path under root, following symlinks. */
function copyInto(root: string, file: string): void {
  const target = join(root, file);
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  chmodSync(target, statSync(file).mode & 0o7777);
}

export async function importRootfs(engine: Engine, root: string, ref: string, changes: string[]): Promise<void> {
  const [repo, tag] = ref.split(':') as [string, string];
  const tar = spawn('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-c', ...readdirSync(root)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let tarErr = '';
  tar.stderr.on('data', (d: Buffer) => { tarErr += d.toString(); });
  const tarDone = new Promise<void>((resolve, reject) => {
    tar.once('error', reject);
    tar.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`tar failed (${code}): ${tarErr}`))));
  });
  const res = (await engine.docker.importImage(tar.stdout, { repo, tag, changes })) as Readable;
  let body = '';
  for await (const chunk of res) body += (chunk as Buffer).toString();
  await tarDone;
  const failure = body.split('\n').map((l) => l.trim()).filter((l) => l !== '').map((l) => JSON.parse(l) as { error?: string }).find((m) => m.error !== undefined);
  if (failure !== undefined) throw new Error(`docker import of ${ref} failed: ${failure.error}`);
  // Podman's compatible API (4.3) ignores the tag and names the import <repo>:latest: tag it as asked.
  if (!(await hasImage(engine, ref))) await engine.docker.getImage(`${repo}:latest`).tag({ repo, tag });
}
