// The apps behind the proxies, as containers of the test harness's offline images: nginx with a
// config sized for the loads (16k connections, backlog 4096, unlimited keep-alive requests), a
// variant that also runs a raw-TCP sink and source for bulk transfers, and a "late listener" that
// opens its port 2 s after its container starts.

import { createContainer, type Engine, type TestContainer } from '../../test/support/engine.ts';
import type { BenchContext } from './context.ts';

const NGINX_CONF = [
  'daemon off;',
  'worker_processes 1;',
  'worker_rlimit_nofile 20000;',
  'pid /tmp/nginx.pid;',
  'error_log stderr;',
  'events { worker_connections 16384; }',
  'http {',
  '  access_log off;',
  '  default_type text/html;',
  '  keepalive_requests 1000000;',
  '  server { listen 80 backlog=4096; root /www; }',
  '}',
  '',
].join('\n');

const RUN_NGINX = 'printf "%s" "$NGINX_CONF" > /tmp/nginx.conf && exec /usr/sbin/nginx -e stderr -c /tmp/nginx.conf';

/** Raw TCP on 81 reads everything to /dev/null; on 82 writes $BULK_MIB MiB of zeros; 1 MiB blocks. */
const RUN_SINK_AND_SOURCE = 'nc -ll -p 81 -e dd of=/dev/null bs=1M 2>/dev/null & nc -ll -p 82 -e dd if=/dev/zero bs=1M count=$BULK_MIB 2>/dev/null & ';

export const LATE_LISTEN_S = 2;

export interface Backend extends TestContainer {
  /** 127.0.0.1 port published to container port 80 (through Docker's userland proxy), if any. */
  publishedPort: number | undefined;
}

async function make(ctx: BenchContext, hint: string, opts: { image: string; cmd: string[]; env?: string[]; publish?: number; start?: boolean }): Promise<Backend> {
  const c = await createContainer(ctx.engine, {
    image: opts.image,
    cmd: opts.cmd,
    nameHint: `bench-${hint}`,
    labels: { 'portwake-bench': '1' },
    ...(opts.env === undefined ? {} : { env: opts.env }),
    ...(opts.publish === undefined ? { expose: [80] } : { publish: [{ containerPort: 80, hostPort: opts.publish }] }),
    ...(opts.start === undefined ? {} : { start: opts.start }),
  });
  ctx.cleanup.defer(`remove container ${c.name}`, () => c.remove());
  return { ...c, publishedPort: opts.publish };
}

/** nginx serving /www/index.html on port 80; created stopped unless `start`. */
export function nginxBackend(ctx: BenchContext, hint: string, o: { publish?: number; start?: boolean } = {}): Promise<Backend> {
  return make(ctx, hint, { image: ctx.images.nginx, cmd: ['sh', '-c', RUN_NGINX], env: [`NGINX_CONF=${NGINX_CONF}`], ...o });
}

/** nginx on 80 plus the bulk sink (81) and source (82); started. */
export function bulkBackend(ctx: BenchContext, mib: number): Promise<Backend> {
  return make(ctx, 'bulk', { image: ctx.images.nginx, cmd: ['sh', '-c', RUN_SINK_AND_SOURCE + RUN_NGINX], env: [`NGINX_CONF=${NGINX_CONF}`, `BULK_MIB=${mib}`], start: true });
}

/** busybox httpd that starts listening LATE_LISTEN_S after the container starts; published; stopped. */
export function lateBackend(ctx: BenchContext, publish: number): Promise<Backend> {
  const cmd = `trap "exit 0" TERM; sleep ${LATE_LISTEN_S} & wait $!; httpd -f -p 80 -h /www & wait`;
  return make(ctx, 'late', { image: ctx.images.busybox, cmd: ['sh', '-c', cmd], publish });
}

export async function containerIp(engine: Pick<Engine, 'docker'>, name: string): Promise<string> {
  const info = (await engine.docker.getContainer(name).inspect()) as { NetworkSettings: { IPAddress?: string; Networks?: Record<string, { IPAddress?: string }> } };
  const ip = info.NetworkSettings.IPAddress ?? Object.values(info.NetworkSettings.Networks ?? {}).find((n) => (n.IPAddress ?? '') !== '')?.IPAddress;
  if (ip === undefined || ip === '') throw new Error(`container ${name} has no IP address (is it running?)`);
  return ip;
}

export async function isRunning(engine: Engine, name: string): Promise<boolean> {
  const info = (await engine.docker.getContainer(name).inspect()) as { State: { Running: boolean } };
  return info.State.Running;
}

/** Stops the container if it runs (SIGTERM, 2 s grace) and confirms it is stopped. */
export async function ensureStopped(engine: Engine, name: string): Promise<void> {
  if (!(await isRunning(engine, name))) return;
  try {
    await engine.docker.getContainer(name).stop({ t: 2 });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 304) throw err; // 304: stopped meanwhile
  }
  if (await isRunning(engine, name)) throw new Error(`container ${name} still runs after docker stop`);
}
