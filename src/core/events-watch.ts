// Keeps portwake's view of containers true: follows the engine's events stream, reconnects with
// capped backoff when it breaks (engine restart), and asks for a re-inspection after reconnecting,
// since events may have been missed meanwhile.

import { sleep, type Clock } from './clock.ts';
import { describe } from './errors.ts';
import type { Logger } from './logger.ts';
import type { ContainerEvent, Provider } from './provider.ts';

export interface WatchOptions {
  provider: Provider;
  clock: Clock;
  logger: Logger;
  signal: AbortSignal;
  /** The engine's name, for the log lines (when there are several). */
  engine?: string;
  onEvent(event: ContainerEvent): void;
  /** Called once the stream is re-established after a break. */
  onResync(cause: string): void;
}

const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

/** Runs until the signal aborts; never rejects. */
export async function watchEvents(o: WatchOptions): Promise<void> {
  let delay = FIRST_RETRY_MS;
  let broken = false;
  const which = o.engine === undefined ? '' : ` of engine "${o.engine}" (${o.provider.endpoint})`;
  while (!o.signal.aborted) {
    try {
      const iterator = o.provider.events(o.signal)[Symbol.asyncIterator]();
      let next = iterator.next();
      if (broken) {
        // Subscribe first, then re-inspect: nothing that happens from now on can be missed.
        await Promise.race([next.then(() => undefined), sleep(o.clock, 50, o.signal)]);
        o.logger.info({}, `docker events stream${which} re-established; re-inspecting containers`);
        o.onResync('events stream reconnected');
        broken = false;
      }
      for (;;) {
        const r = await next;
        if (r.done === true) break;
        delay = FIRST_RETRY_MS;
        o.onEvent(r.value);
        next = iterator.next();
      }
      if (o.signal.aborted) return;
      throw new Error('the stream ended');
    } catch (err) {
      if (o.signal.aborted) return;
      if (!broken) o.logger.warn({ err: describe(err) }, `docker events stream${which} lost (${describe(err)}); reconnecting`);
      broken = true;
    }
    await sleep(o.clock, delay, o.signal).catch(() => undefined);
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  }
}
