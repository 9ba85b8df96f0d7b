// Workload 3 — request rate: wrk against nginx's index page, keep-alive and a new connection per
// request, direct / portwake / systemd-socket-proxyd in turn; req/s, latency p50/p99, and the
// proxy's CPU time per 1,000 requests. Then latency at the same offered load: new connections
// paced to a share of proxyd's rate (each wrk connection waits before its next request), so that
// neither proxy is the bottleneck and p99 compares the proxies rather than the scheduling of a
// saturated machine, where the faster proxy leaves wrk and nginx the tail.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { containerIp, nginxBackend } from '../support/backends.ts';
import { rotate, type BenchContext } from '../support/context.ts';
import { freePorts } from '../support/net.ts';
import { cpuSeconds } from '../support/proc.ts';
import { median } from '../support/stats.ts';
import { startPortwake } from '../peers/portwake.ts';
import { startProxyd } from '../peers/proxyd.ts';
import { PATHS, type DataPath } from './bulk.ts';
import { runWrk, type WrkRun } from './wrk.ts';

/** 'paced' runs after 'close': its pace is a share of proxyd's new-connection rate in this run. */
export const MODES = ['keepalive', 'close', 'paced'] as const;
export type RateMode = (typeof MODES)[number];

/** The paced mode offers this share of proxyd's saturated new-connection rate. */
const PACE_SHARE = 0.6;

export interface RateRun extends WrkRun { round: number; cpuS: number | undefined }
export interface RatePath {
  runs: RateRun[];
  /** Medians over the rounds. */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  cpuMsPer1kReq: number | undefined;
}
export interface RateResult {
  wrk: { threads: number; connections: number; seconds: number };
  rounds: number;
  keepalive: Record<DataPath, RatePath>;
  close: Record<DataPath, RatePath>;
  /** New connections at the same offered load for every path. */
  paced: Record<DataPath, RatePath>;
  pace: { share: number; offeredRps: number; delayMs: number };
}

export async function runRate(ctx: BenchContext): Promise<RateResult> {
  const load = { threads: 2, connections: 50, seconds: ctx.quick ? 2 : 5 };
  // Five: one round moves by ±15% on a shared 2-core machine, for every contender alike.
  const rounds = ctx.quick ? 1 : 5;
  const backend = await nginxBackend(ctx, 'rate', { start: true });
  const ip = await containerIp(ctx.engine, backend.name);
  const runs: Record<RateMode, Record<DataPath, RateRun[]>> = {
    keepalive: { direct: [], portwake: [], proxyd: [] },
    close: { direct: [], portwake: [], proxyd: [] },
    paced: { direct: [], portwake: [], proxyd: [] },
  };
  const pace = { share: PACE_SHARE, offeredRps: 0, delayMs: 0 };
  const paceScript = join(ctx.tmp, 'pace.lua');
  // Fresh proxies per mode, so that each mode has its own --profile.
  for (const mode of MODES) {
    let script: string | undefined;
    if (mode === 'paced') {
      pace.offeredRps = PACE_SHARE * median(runs.close.proxyd.map((r) => r.rps));
      pace.delayMs = Math.max(1, Math.round((load.connections * 1000) / pace.offeredRps));
      writeFileSync(paceScript, `function delay() return ${pace.delayMs} end\n`);
      script = paceScript;
    }
    const wrk = { ...load, close: mode !== 'keepalive', script };
    const [pwPort = 0, pdPort = 0] = await freePorts(2);
    const portwake = await startPortwake(ctx, `rate-${mode}`, ['proxy', '--listen', `127.0.0.1:${pwPort}`, '--container', backend.name, '--grace', '1s']);
    const proxyd = await startProxyd(ctx, pdPort, `${ip}:80`);
    try {
      const target = (path: DataPath): { url: string; pid: number | undefined } => {
        if (path === 'direct') return { url: `http://${ip}:80/`, pid: undefined };
        if (path === 'portwake') return { url: `http://127.0.0.1:${pwPort}/`, pid: portwake.pid };
        return { url: `http://127.0.0.1:${pdPort}/`, pid: proxyd.pid };
      };
      // Warm-up: portwake's readiness (found running), proxyd's exec, V8's JIT, nginx's caches.
      for (const path of PATHS) await runWrk({ ...wrk, seconds: 1, url: target(path).url });
      await portwake.ready(backend.name, 1_000);
      for (let round = 0; round < rounds; round++) {
        for (const path of rotate(PATHS, round)) {
          const t = target(path);
          await delay(500); // let the previous run's sockets drain
          const cpu0 = t.pid === undefined ? 0 : cpuSeconds(t.pid);
          const r = await runWrk({ ...wrk, url: t.url });
          const cpuS = t.pid === undefined ? undefined : cpuSeconds(t.pid) - cpu0;
          runs[mode][path].push({ ...r, round, cpuS });
          ctx.say(`  rate ${mode} round ${round + 1}/${rounds} ${path}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(2)} ms, p99 ${r.p99Ms.toFixed(2)} ms, ${r.errors} errors${cpuS === undefined ? '' : `, ${cpuS.toFixed(2)} CPU s`}`);
        }
      }
    } finally {
      await portwake.close();
      await proxyd.stop();
    }
  }
  const summarizePath = (list: RateRun[]): RatePath => {
    const cpu = list.filter((r) => r.cpuS !== undefined).map((r) => ((r.cpuS ?? 0) * 1000) / (r.requests / 1000));
    return {
      runs: list,
      rps: median(list.map((r) => r.rps)),
      p50Ms: median(list.map((r) => r.p50Ms)),
      p99Ms: median(list.map((r) => r.p99Ms)),
      errors: list.reduce((a, r) => a + r.errors, 0),
      cpuMsPer1kReq: cpu.length === 0 ? undefined : median(cpu),
    };
  };
  const side = (mode: RateMode): Record<DataPath, RatePath> => ({
    direct: summarizePath(runs[mode].direct),
    portwake: summarizePath(runs[mode].portwake),
    proxyd: summarizePath(runs[mode].proxyd),
  });
  return { wrk: load, rounds, keepalive: side('keepalive'), close: side('close'), paced: side('paced'), pace };
}
