// Workload — wake after idle, stop vs pause: one portwake with two services on two nginx
// containers, idleTimeout 1s, one with idleAction: stop (the container is stopped when idle) and
// one with idleAction: pause (frozen). Each round waits until both are idle, then measures connect
// → first response byte on each, in alternating order: a cold start against an unpause.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { nginxBackend } from '../support/backends.ts';
import { rotate, type BenchContext } from '../support/context.ts';
import { firstByte, freePorts } from '../support/net.ts';
import { waitUntil } from '../support/proc.ts';
import { median, summarize, type Summary } from '../support/stats.ts';
import { startPortwake, type LogLine } from '../peers/portwake.ts';

export const WAKE_CONTENDERS = ['stop', 'pause'] as const;
export type WakeContender = (typeof WAKE_CONTENDERS)[number];

export interface WakeSeries {
  /** Connect → first response byte after idle, over the successful rounds. */
  ttfb: Summary;
  failed: number;
  samples: { round: number; ok: boolean; ms: number; detail: string }[];
  /** portwake's own account (its log, medians): the container start or the unpause request. */
  engineMs: number;
}

export interface PauseResult {
  rounds: number;
  idleTimeoutMs: number;
  contenders: Record<WakeContender, WakeSeries>;
  /** stop's median first byte over pause's. */
  speedup: number;
}

const IDLE_MS = 1_000;

export async function runPause(ctx: BenchContext): Promise<PauseResult> {
  const rounds = ctx.quick ? 3 : 11;
  const backends = { stop: await nginxBackend(ctx, 'wake-stop'), pause: await nginxBackend(ctx, 'wake-pause') };
  const [stopPort = 0, pausePort = 0] = await freePorts(2);
  const ports: Record<WakeContender, number> = { stop: stopPort, pause: pausePort };
  const config = join(ctx.tmp, 'pause.yaml');
  writeFileSync(config, [
    'services:',
    ...WAKE_CONTENDERS.flatMap((c) => [
      `  ${c}:`,
      `    listen: 127.0.0.1:${ports[c]}`,
      `    container: ${backends[c].name}`,
      `    idleTimeout: ${IDLE_MS}ms`,
      `    idleAction: ${c}`,
      '    stopTimeout: 2s',
    ]),
    '',
  ].join('\n'));
  const portwake = await startPortwake(ctx, 'pause', ['run', '-c', config]);
  // "stopped container … (idle)" / "paused container … (idle)": the service is idle again.
  const idled = (c: WakeContender): number => portwake.log().filter((l) => l.msg.startsWith(`service "${c}": ${c === 'stop' ? 'stopped' : 'paused'} container `)).length;
  const samples: Record<WakeContender, WakeSeries['samples']> = { stop: [], pause: [] };
  try {
    // The first wake of each is a cold start for both: not measured.
    for (const c of WAKE_CONTENDERS) {
      const fb = await firstByte('127.0.0.1', ports[c], 20_000);
      if (!fb.ok) throw new Error(`service ${c}: the first request failed: ${fb.detail}`);
    }
    const seen: Record<WakeContender, number> = { stop: 0, pause: 0 };
    for (let round = 0; round < rounds; round++) {
      for (const c of WAKE_CONTENDERS) {
        await waitUntil(`service ${c} to be idle (${c === 'stop' ? 'stopped' : 'paused'})`, () => (idled(c) > seen[c] ? true : undefined), 30_000, 50);
        seen[c] = idled(c);
      }
      await delay(200); // let the engine finish tearing down the stopped one (docker-proxy, veth)
      for (const c of rotate(WAKE_CONTENDERS, round)) {
        const fb = await firstByte('127.0.0.1', ports[c], 20_000);
        samples[c].push({ round, ok: fb.ok, ms: fb.ms, detail: fb.detail });
        ctx.say(`  pause round ${round + 1}/${rounds} ${c}: ${fb.ok ? `${fb.ms.toFixed(1)} ms` : `FAILED after ${fb.ms.toFixed(0)} ms (${fb.detail})`}`);
      }
    }
  } finally {
    await portwake.close();
  }
  const log = portwake.log();
  const engineMs = (c: WakeContender): number => median(log.filter((l: LogLine) => l.msg.startsWith(`service "${c}": `)).flatMap((l) => {
    const v = c === 'stop' ? l['startMs'] : l['unpauseMs'];
    return typeof v === 'number' ? [v] : [];
  }));
  const series = (c: WakeContender): WakeSeries => {
    const ok = samples[c].filter((s) => s.ok);
    return { ttfb: summarize(ok.map((s) => s.ms)), failed: samples[c].length - ok.length, samples: samples[c], engineMs: engineMs(c) };
  };
  const contenders = { stop: series('stop'), pause: series('pause') };
  return { rounds, idleTimeoutMs: IDLE_MS, contenders, speedup: contenders.stop.ttfb.median / contenders.pause.ttfb.median };
}
