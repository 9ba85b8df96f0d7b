// Workload 4 — the herd: 1,000 connections at once to a stopped service. All must be served by
// one container start; the time until the last one has its first byte. Starts are counted from the
// engine's own events (and from portwake's log, which should agree).

import { nginxBackend } from '../support/backends.ts';
import type { BenchContext } from '../support/context.ts';
import { firstByte, freePorts } from '../support/net.ts';
import { summarize, type Summary } from '../support/stats.ts';
import type { Engine } from '../../test/support/engine.ts';
import { startPortwake } from '../peers/portwake.ts';
import { setTimeout as delay } from 'node:timers/promises';

export interface HerdResult {
  connections: number;
  served: number;
  failures: Record<string, number>;
  /** Container starts the engine reported during the herd. */
  engineStarts: number;
  /** Starts portwake logged. */
  portwakeStarts: number;
  /** From the first connect() until the last connection's first byte. */
  lastFirstByteMs: number;
  firstByteMs: Summary;
}

export async function runHerd(ctx: BenchContext): Promise<HerdResult> {
  const n = 1000;
  const backend = await nginxBackend(ctx, 'herd');
  const [pwPort = 0] = await freePorts(1);
  const portwake = await startPortwake(ctx, 'herd', ['proxy', '--listen', `127.0.0.1:${pwPort}`, '--container', backend.name, '--grace', '1s', '--max-pending', '1024']);
  try {
    const wallStart = Date.now();
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: n }, () => {
      const started = performance.now() - t0;
      return firstByte('127.0.0.1', pwPort, 30_000).then((r) => ({ ...r, at: started + r.ms }));
    }));
    const served = results.filter((r) => r.ok);
    const failures: Record<string, number> = {};
    for (const r of results) if (!r.ok) failures[r.detail] = (failures[r.detail] ?? 0) + 1;
    const engineStarts = await countStarts(ctx.engine, backend.name, wallStart);
    const result: HerdResult = {
      connections: n,
      served: served.length,
      failures,
      engineStarts,
      portwakeStarts: portwake.starts().length,
      lastFirstByteMs: Math.max(...results.map((r) => r.at)),
      firstByteMs: summarize(served.map((r) => r.at)),
    };
    ctx.say(`  herd: ${result.served}/${n} served, ${engineStarts} start(s) (portwake logged ${result.portwakeStarts}), last first byte after ${result.lastFirstByteMs.toFixed(0)} ms`);
    return result;
  } finally {
    await portwake.close();
  }
}

/** `start` events of the container since wallStart (ms), from the engine's event log. */
async function countStarts(engine: Engine, container: string, wallStart: number): Promise<number> {
  // `until` must be in the past for the stream to end by itself: wait for the next whole second.
  const until = Math.floor(Date.now() / 1000) + 1;
  await delay(until * 1000 - Date.now() + 50);
  const stream = await engine.docker.getEvents({
    since: Math.floor(wallStart / 1000) - 1,
    until,
    filters: { type: ['container'], container: [container], event: ['start'] },
  });
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text.split('\n').filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as { timeNano?: number })
    .filter((e) => (e.timeNano ?? 0) >= wallStart * 1e6).length;
}
