// Gives back the heap that start-up grew: V8 enlarges its young generation while a config is
// parsed and its services are built (to 32 MiB with 1,000 services) and keeps it, idle, for as long
// as it likes. One collection through the inspector's HeapProfiler.collectGarbage — the
// low-memory collection, which also shrinks the young generation — over an in-process session: a
// documented API, no flag, no port. It pauses the process for ~20-40 ms.

import { describe } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';

/** Never rejects: without an inspector (a Node built without one) nothing happens. */
export async function releaseHeap(logger: Logger): Promise<void> {
  const before = process.memoryUsage.rss();
  const t0 = performance.now();
  let session: import('node:inspector/promises').Session | undefined;
  try {
    const { Session } = await import('node:inspector/promises');
    session = new Session();
    session.connect();
    await session.post('HeapProfiler.collectGarbage');
  } catch (err) {
    logger.debug({ err: describe(err) }, `releasing the start-up heap failed: ${describe(err)}, ignoring`);
    return;
  } finally {
    session?.disconnect();
  }
  const mib = (bytes: number): number => Math.round(bytes / 104_857.6) / 10;
  logger.debug({ rssBeforeMiB: mib(before), rssAfterMiB: mib(process.memoryUsage.rss()), ms: Math.round(performance.now() - t0) }, 'released the heap grown at start-up');
}
