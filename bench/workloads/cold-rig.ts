// The four ways to bring up a stopped container on the first connection, measured the same way
// (connect → first response byte) in alternating rounds: the container directly (the limit),
// portwake, and the seed recipe's chain with its waitport loop or with its `sleep 1`. Every
// contender talks to the engine through a tap that times its own `POST /containers/…/start`.

import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Dockerode from 'dockerode';
import { ensureStopped, type Backend } from '../support/backends.ts';
import { rotate, type BenchContext } from '../support/context.ts';
import { firstByte, freePorts, type FirstByte } from '../support/net.ts';
import type { Child } from '../support/proc.ts';
import { median, summarize, type Summary } from '../support/stats.ts';
import { directColdStart } from '../peers/direct.ts';
import { startEngineTap, type EngineCall } from '../peers/engine-tap.ts';
import { startPortwake } from '../peers/portwake.ts';
import { socketActivate } from '../peers/proxyd.ts';

export const COLD_CONTENDERS = ['direct', 'portwake', 'recipe-waitport', 'recipe-sleep'] as const;
export type ColdContender = (typeof COLD_CONTENDERS)[number];

export interface ColdSample {
  round: number;
  ok: boolean;
  ms: number;
  /** Status line, or how the first request failed. */
  detail: string;
  /** When this contender's POST /containers/…/start was sent and answered (ms after connect). */
  startSentMs: number | undefined;
  startAnsweredMs: number | undefined;
  /** Every engine request of the round: "+3.1 GET /containers/x/json (2.9 ms)". */
  engineCalls: string[];
}

export interface ContenderSeries {
  samples: ColdSample[];
  /** Time to first byte over the successful rounds. */
  ttfb: Summary;
  failed: number;
  /**
   * What the contender adds, per round: its time to first byte minus the duration of its own
   * engine start call minus what the app itself needs after that call (the direct rounds' median
   * of first byte − start answered: one inspect, the app's listen, its response). Takes the
   * engine's round-to-round variance out. undefined for direct.
   */
  overhead: Summary | undefined;
  /** Simpler and noisier: first byte minus the direct first byte of the same round. */
  pairedOverhead: Summary | undefined;
  /** Medians: connect → start sent, the start call itself, start answered → first byte. */
  phases: { beforeStartMs: number; startCallMs: number; afterStartMs: number };
}

export interface ColdSeries {
  rounds: number;
  contenders: Record<ColdContender, ContenderSeries>;
  /** The direct rounds: the app accepted its first connection (ms after docker start was sent). */
  directListeningMs: Summary;
  /** The app's own share after the start call (median over the direct rounds), subtracted above. */
  appAfterStartMs: number;
  /** portwake's own account of each start (its log line): container start and readiness. */
  portwakeLog: { startMs: number[]; readinessMs: number[] };
}

const CHAIN = join(import.meta.dirname, '..', 'peers', 'recipe-chain.sh');
const START_CALL = /^\/containers\/[^/]+\/start(\?|$)/;

/**
 * Runs `rounds` rounds over the backend (a stopped container whose port 80 is published on
 * backend.publishedPort for the recipe). portwake forwards to the container's own address unless
 * `portwakeUpstream` is given.
 */
export async function coldSeries(ctx: BenchContext, backend: Backend, o: { rounds: number; timeoutMs: number; portwakeUpstream?: string; label: string }): Promise<ColdSeries> {
  const published = backend.publishedPort;
  if (published === undefined) throw new Error('the cold-start backend must publish port 80 for the recipe');
  const tap = await startEngineTap(join(ctx.tmp, `engine-tap-${o.label}.sock`), ctx.engine.socketPath);
  ctx.cleanup.defer(`close the engine tap (${o.label})`, () => tap.close());
  // Every env-derived dockerode option is overridden, as the harness does.
  const viaTap = { docker: new Dockerode({ socketPath: tap.socketPath, host: undefined, port: undefined, protocol: 'http', ca: undefined, cert: undefined, key: undefined }) };
  const [pwPort = 0, ctlPort = 0, waitportPort = 0, sleepPort = 0] = await freePorts(4);
  const upstream = o.portwakeUpstream === undefined ? [] : ['--upstream', o.portwakeUpstream];
  const portwake = await startPortwake(ctx, o.label, ['proxy', '--listen', `127.0.0.1:${pwPort}`, '--container', backend.name, '--grace', '1s', ...upstream], { control: ctlPort, dockerHost: tap.dockerHost });
  const engine = ctx.engine;
  const listening: number[] = [];
  let chain: Child | undefined;

  const measure = async (c: ColdContender): Promise<FirstByte> => {
    switch (c) {
      case 'direct': {
        const r = await directColdStart(viaTap, backend.name, 80, o.timeoutMs);
        if (Number.isFinite(r.listeningMs)) listening.push(r.listeningMs);
        return r;
      }
      case 'portwake':
        return firstByte('127.0.0.1', pwPort, o.timeoutMs);
      case 'recipe-waitport':
      case 'recipe-sleep': {
        const port = c === 'recipe-waitport' ? waitportPort : sleepPort;
        const mode = c === 'recipe-waitport' ? 'waitport' : 'sleep';
        // The socket is bound before the clock starts, as a .socket unit's is.
        chain = await socketActivate(ctx, c, port, ['/bin/sh', CHAIN, mode, backend.name, '127.0.0.1', String(published)], tap.dockerHost);
        return firstByte('127.0.0.1', port, o.timeoutMs);
      }
    }
  };

  const reset = async (c: ColdContender): Promise<void> => {
    if (c === 'portwake') await portwake.control(backend.name, 'stop');
    await ensureStopped(engine, backend.name);
    if (chain !== undefined) {
      await chain.stop();
      chain = undefined;
    }
  };

  const samples = new Map<ColdContender, ColdSample[]>(COLD_CONTENDERS.map((c) => [c, []]));
  try {
    for (let round = 0; round < o.rounds; round++) {
      for (const c of rotate(COLD_CONTENDERS, round)) {
        await ensureStopped(engine, backend.name);
        await delay(200); // let the engine finish tearing down the last run (docker-proxy, veth)
        const fb = await measure(c);
        const calls = tap.between(fb.t0 - 1, fb.t0 + fb.ms);
        const start = calls.find((x) => x.method === 'POST' && START_CALL.test(x.path));
        samples.get(c)?.push({
          round,
          ok: fb.ok,
          ms: fb.ms,
          detail: fb.detail,
          startSentMs: start === undefined ? undefined : start.sentAt - fb.t0,
          startAnsweredMs: start?.answeredAt === undefined ? undefined : start.answeredAt - fb.t0,
          engineCalls: calls.map((x) => describeCall(x, fb.t0)),
        });
        ctx.say(`  ${o.label} round ${round + 1}/${o.rounds} ${c}: ${fb.ok ? `${fb.ms.toFixed(1)} ms` : `FAILED after ${fb.ms.toFixed(0)} ms (${fb.detail})`}${start?.answeredAt === undefined ? '' : ` (engine start call ${(start.answeredAt - start.sentAt).toFixed(1)} ms)`}`);
        await reset(c);
      }
    }
  } finally {
    await portwake.close();
  }

  const direct = samples.get('direct') ?? [];
  const afterStart = (x: ColdSample): number | undefined => (x.startAnsweredMs === undefined ? undefined : x.ms - x.startAnsweredMs);
  const appAfterStartMs = median(direct.filter((x) => x.ok).map(afterStart).filter((v): v is number => v !== undefined));
  const series = (c: ColdContender): ContenderSeries => {
    const s = samples.get(c) ?? [];
    const ok = s.filter((x) => x.ok);
    const timed = ok.filter((x) => x.startSentMs !== undefined && x.startAnsweredMs !== undefined);
    const paired: number[] = [];
    for (const x of ok) {
      const d = direct.find((y) => y.round === x.round && y.ok);
      if (d !== undefined) paired.push(x.ms - d.ms);
    }
    const startCall = (x: ColdSample): number => (x.startAnsweredMs ?? Number.NaN) - (x.startSentMs ?? Number.NaN);
    return {
      samples: s,
      ttfb: summarize(ok.map((x) => x.ms)),
      failed: s.length - ok.length,
      overhead: c === 'direct' ? undefined : summarize(timed.map((x) => x.ms - startCall(x) - appAfterStartMs)),
      pairedOverhead: c === 'direct' ? undefined : summarize(paired),
      phases: {
        beforeStartMs: median(timed.map((x) => x.startSentMs ?? Number.NaN)),
        startCallMs: median(timed.map(startCall)),
        afterStartMs: median(timed.map((x) => x.ms - (x.startAnsweredMs ?? Number.NaN))),
      },
    };
  };
  const starts = portwake.starts();
  return {
    rounds: o.rounds,
    contenders: { direct: series('direct'), portwake: series('portwake'), 'recipe-waitport': series('recipe-waitport'), 'recipe-sleep': series('recipe-sleep') },
    directListeningMs: summarize(listening),
    appAfterStartMs,
    portwakeLog: { startMs: starts.map((l) => Number(l['startMs'])), readinessMs: starts.map((l) => Number(l['readinessMs'])) },
  };
}

function describeCall(c: EngineCall, t0: number): string {
  const took = c.answeredAt === undefined ? 'no answer yet' : `${(c.answeredAt - c.sentAt).toFixed(1)} ms`;
  return `+${(c.sentAt - t0).toFixed(1)} ${c.method} ${c.path.replace(/\?.*/, '')} → ${c.status ?? '…'} (${took})`;
}
