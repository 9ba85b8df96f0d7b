// Workload 1b — the late listener: an app that listens LATE_LISTEN_S after its container starts,
// published with -p 127.0.0.1:X:80. Docker's userland proxy accepts on X as soon as the container
// runs, so the recipe's `nc -z` succeeds at once and its first request is forwarded to nothing.
// portwake is given the same published port as its upstream, to show its readiness is not fooled.

import { lateBackend } from '../support/backends.ts';
import type { BenchContext } from '../support/context.ts';
import { freePort } from '../support/net.ts';
import { coldSeries, type ColdSeries } from './cold-rig.ts';

export type LateResult = ColdSeries & { publishedPort: number };

export async function runLateListener(ctx: BenchContext): Promise<LateResult> {
  const published = await freePort();
  const backend = await lateBackend(ctx, published);
  const series = await coldSeries(ctx, backend, { rounds: ctx.quick ? 1 : 3, timeoutMs: 20_000, portwakeUpstream: `127.0.0.1:${published}`, label: 'late' });
  return { ...series, publishedPort: published };
}
