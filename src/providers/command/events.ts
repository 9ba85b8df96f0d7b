// The command provider's events: made by the provider itself (a process started or exited, a start:
// or stop: command succeeded), fanned out to every open events() stream.

import type { ContainerEvent } from '../../core/provider.ts';

type Subscriber = (e: ContainerEvent) => void;

export class EventHub {
  private readonly subscribers = new Set<Subscriber>();

  emit(e: ContainerEvent): void {
    for (const s of this.subscribers) s(e);
  }

  /** Yields events until the signal aborts (then returns). Events are never lost: they queue. */
  async *stream(signal: AbortSignal): AsyncGenerator<ContainerEvent, void, undefined> {
    if (signal.aborted) return;
    const queue: ContainerEvent[] = [];
    let wake: (() => void) | undefined;
    const sub: Subscriber = (e) => { queue.push(e); wake?.(); };
    const onAbort = (): void => wake?.();
    this.subscribers.add(sub);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        const e = queue.shift();
        if (e !== undefined) {
          yield e;
          continue;
        }
        if (signal.aborted) return;
        await new Promise<void>((r) => { wake = r; });
        wake = undefined;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      this.subscribers.delete(sub);
    }
  }
}
