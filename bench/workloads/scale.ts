// Workload 5 — scale: the daemon's RSS idle with 1, 100 and 1,000 services configured (loopback
// listeners; the containers do not exist, against a recording fake engine that shows portwake
// inspects nothing at start-up) and again once one of them has activated and served (the engine
// client loaded, the events stream open: what a daemon that has been used holds), then RSS and CPU with 9,000 proxied idle connections, held by
// three client processes (each proxied connection costs portwake two descriptors of its 20,000).

import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { nginxBackend } from '../support/backends.ts';
import type { BenchContext } from '../support/context.ts';
import { firstByte, freePortRange, freePorts } from '../support/net.ts';
import { cpuSeconds, rssKiB, spawnChild, waitUntil } from '../support/proc.ts';
import { startFakeEngine } from '../peers/fake-engine.ts';
import { startPortwake } from '../peers/portwake.ts';

export interface ServicesScale {
  services: number;
  rssMiB: number;
  /** RSS once the first service has activated (fake engine) and served one request, then sat idle. */
  rssAfterActivationMiB: number;
  /** Whether that activation served its request (else the figure above means nothing). */
  activationServed: boolean;
  /** That first activation, connect → first byte (the fake engine starts nothing: portwake's own work, and its first-use costs). */
  activationMs: number;
  /** From spawn until portwake logged that every listener is bound. */
  startupMs: number;
  /** Every request portwake sent the engine during start-up and the idle second after it. */
  engineRequests: string[];
  /** Of those, container inspects (there should be none). */
  inspects: number;
}

export interface IdleScale {
  target: number;
  clients: number;
  opened: number;
  ok: number;
  errors: Record<string, number>;
  rssBeforeMiB: number;
  rssAfterMiB: number;
  perConnectionKiB: number;
  /** portwake's CPU to accept and connect them all, per connection. */
  cpuUsPerConnectionOpened: number;
  /** portwake's CPU while they sat idle. */
  holdS: number;
  cpuSDuringHold: number;
  openFds: number;
}

export interface ScaleResult {
  /** RSS of `node -e` doing nothing: the floor under any Node daemon. */
  nodeFloorMiB: number;
  services: ServicesScale[];
  idle: IdleScale;
}

interface ClientReport { opened: number; ok: number; failed: number; errors: Record<string, number> }

const mib = (kib: number): number => kib / 1024;

/** The highest of a few RSS samples over ~1 s (memory still settling counts against us). */
async function settledRss(pid: number): Promise<number> {
  let max = 0;
  for (let i = 0; i < 5; i++) {
    max = Math.max(max, rssKiB(pid));
    await delay(200);
  }
  return max;
}

export async function runScale(ctx: BenchContext): Promise<ScaleResult> {
  const floor = spawnChild(ctx.cleanup, process.execPath, ['-e', 'setInterval(() => {}, 1e6)'], join(ctx.tmp, 'node-floor.log'));
  await delay(1_000);
  const nodeFloorMiB = mib(await settledRss(floor.pid));
  await floor.stop();

  const services: ServicesScale[] = [];
  for (const count of ctx.quick ? [1, 100] : [1, 100, 1000]) services.push(await servicesScale(ctx, count));
  const idle = await idleScale(ctx, ctx.quick ? 1_500 : 9_000);
  return { nodeFloorMiB, services, idle };
}

async function servicesScale(ctx: BenchContext, count: number): Promise<ServicesScale> {
  // The app of the one service that activates: a loopback HTTP answer, no container needed.
  const app = createServer((socket) => {
    socket.once('data', () => { socket.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'); });
    socket.on('error', () => { /* the client went away */ });
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  ctx.cleanup.defer(`close scale app ${count}`, () => { app.close(); });
  const appPort = (app.address() as AddressInfo).port;
  const fake = await startFakeEngine(join(ctx.tmp, `fake-engine-${count}.sock`), new Map([['pwbench-live', appPort]]));
  try {
    const base = await freePortRange(count);
    const lines = [`engine: unix://${fake.socketPath}`, 'services:'];
    for (let i = 0; i < count; i++) lines.push(`  s${i}: {listen: "127.0.0.1:${base + i}", container: ${i === 0 ? 'pwbench-live' : `pwbench-absent-${i}`}}`);
    const config = join(ctx.tmp, `services-${count}.yaml`);
    writeFileSync(config, `${lines.join('\n')}\n`);
    const t0 = performance.now();
    const portwake = await startPortwake(ctx, `services-${count}`, ['run', '-c', config]);
    const startupMs = performance.now() - t0;
    try {
      // `run` inspects every service's container once it listens (the start-up check): idle is after that.
      await waitUntil(`the start-up check of ${count} service(s)`, () => (portwake.log().some((l) => /^start-up check: \d+ service\(s\) ok/.test(l.msg)) ? true : undefined), 120_000);
      await delay(1_000);
      const rss = await settledRss(portwake.pid);
      const inspects = fake.requests.filter((r) => /\/containers\/[^/]+\/json/.test(r)).length;
      const atStartup = fake.requests.length;
      const engineRequests = [...new Set(fake.requests.map((r) => r.replace(/\?.*/, '?…')))];
      const served = await firstByte('127.0.0.1', base, 10_000);
      await delay(1_000);
      const after = await settledRss(portwake.pid);
      ctx.say(`  scale: ${count} service(s): RSS ${mib(rss).toFixed(1)} MiB, listening after ${startupMs.toFixed(0)} ms, ${inspects} inspects (${atStartup} engine requests); ` +
        `after one activation (${served.ms.toFixed(1)} ms to its first byte) ${served.ok ? '' : `(FAILED: ${served.detail}) `}${mib(after).toFixed(1)} MiB`);
      return { services: count, rssMiB: mib(rss), rssAfterActivationMiB: mib(after), activationServed: served.ok, activationMs: served.ms, startupMs, engineRequests, inspects };
    } finally {
      await portwake.close();
    }
  } finally {
    await fake.close();
  }
}

async function idleScale(ctx: BenchContext, target: number): Promise<IdleScale> {
  const clients = 3;
  const backend = await nginxBackend(ctx, 'idle', { start: true });
  const [pwPort = 0] = await freePorts(1);
  const portwake = await startPortwake(ctx, 'idle', ['proxy', '--listen', `127.0.0.1:${pwPort}`, '--container', backend.name, '--port', '80', '--grace', '1s', '--max-connections', String(target + 100)]);
  const children: ChildProcess[] = [];
  try {
    const warm = await firstByte('127.0.0.1', pwPort, 20_000);
    if (!warm.ok) throw new Error(`portwake does not serve the idle backend: ${warm.detail}`);
    await delay(1_500);
    const rssBefore = await settledRss(portwake.pid);
    const cpuBeforeOpen = cpuSeconds(portwake.pid);
    const script = join(import.meta.dirname, 'idle-client.ts');
    const reports: Promise<ClientReport>[] = [];
    for (let i = 0; i < clients; i++) {
      const share = Math.floor(target / clients) + (i < target % clients ? 1 : 0);
      const child = fork(script, ['127.0.0.1', String(pwPort), String(share), '100'], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
      children.push(child);
      ctx.cleanup.defer(`kill idle client ${child.pid ?? '?'}`, () => { child.kill('SIGKILL'); });
      reports.push(nextMessage<ClientReport>(child, 90_000));
    }
    const opened = await Promise.all(reports);
    const cpuAfterOpen = cpuSeconds(portwake.pid);
    const ok = opened.reduce((a, r) => a + r.ok, 0);
    await delay(2_000);
    const holdS = 5;
    const cpuHold0 = cpuSeconds(portwake.pid);
    await delay(holdS * 1000);
    const cpuSDuringHold = cpuSeconds(portwake.pid) - cpuHold0;
    const rssAfter = await settledRss(portwake.pid);
    const openFds = readdirSync(`/proc/${portwake.pid}/fd`).length;
    // Errors that happened while idle (a connection dropped) show in a second report.
    const final = await Promise.all(children.map((c) => { c.send('report'); return nextMessage<ClientReport>(c, 10_000); }));
    const errors: Record<string, number> = {};
    for (const r of final) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    const result: IdleScale = {
      target,
      clients,
      opened: opened.reduce((a, r) => a + r.opened, 0),
      ok,
      errors,
      rssBeforeMiB: mib(rssBefore),
      rssAfterMiB: mib(rssAfter),
      perConnectionKiB: (rssAfter - rssBefore) / Math.max(1, ok),
      cpuUsPerConnectionOpened: ((cpuAfterOpen - cpuBeforeOpen) * 1e6) / Math.max(1, ok),
      holdS,
      cpuSDuringHold,
      openFds,
    };
    ctx.say(`  scale: ${ok}/${target} idle connections, RSS ${result.rssBeforeMiB.toFixed(1)} → ${result.rssAfterMiB.toFixed(1)} MiB (${result.perConnectionKiB.toFixed(2)} KiB each), ${openFds} fds, ${cpuSDuringHold.toFixed(2)} CPU s in ${holdS} s idle`);
    return result;
  } finally {
    for (const c of children) {
      if (c.connected) c.send('close');
    }
    const exited = Promise.all(children.filter((c) => c.exitCode === null && c.signalCode === null).map((c) => new Promise((r) => c.once('exit', r))));
    await Promise.race([exited, delay(5_000)]);
    for (const c of children) c.kill('SIGKILL');
    await portwake.close();
  }
}

function nextMessage<T>(child: ChildProcess, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`idle client ${child.pid ?? '?'} did not report within ${timeoutMs}ms`)), timeoutMs);
    child.once('message', (m) => {
      clearTimeout(timer);
      resolve(m as T);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`idle client ${child.pid ?? '?'} exited (${code ?? 'signal'}) before reporting`));
    });
  });
}
