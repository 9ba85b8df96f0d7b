// Workload 1a — cold start: a stopped nginx container, the first connection's time to its first
// response byte, and how much of it each contender adds to the container's own start-and-listen time.

import { nginxBackend } from '../support/backends.ts';
import type { BenchContext } from '../support/context.ts';
import { freePort } from '../support/net.ts';
import { coldSeries, type ColdSeries } from './cold-rig.ts';

export type ColdResult = ColdSeries;

export async function runCold(ctx: BenchContext): Promise<ColdResult> {
  const backend = await nginxBackend(ctx, 'cold', { publish: await freePort() });
  return coldSeries(ctx, backend, { rounds: ctx.quick ? 2 : 11, timeoutMs: 20_000, label: 'cold' });
}
