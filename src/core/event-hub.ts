// Events made in this process (the fake provider, the command provider), fanned out to every open
// stream: each stream queues what it has not yielded yet, so none is lost to a slow consumer.

interface Subscriber<T> {
  push(e: T): void;
  fail(err: Error): void;
}

export class EventHub<T> {
  private readonly subscribers = new Set<Subscriber<T>>();

  /** How many streams are open. */
  get size(): number {
    return this.subscribers.size;
  }

  emit(e: T): void {
    for (const s of this.subscribers) s.push(e);
  }

  /** Ends every open stream with `err` once it has yielded what it queued (a broken events stream). */
  fail(err: Error): void {
    for (const s of this.subscribers) s.fail(err);
    this.subscribers.clear();
  }

  /** Yields events until the signal aborts (then returns) or fail() (then throws). */
  async *stream(signal: AbortSignal): AsyncGenerator<T, void, undefined> {
    if (signal.aborted) return;
    const queue: T[] = [];
    let failure: Error | undefined;
    let wake: (() => void) | undefined;
    const sub: Subscriber<T> = {
      push: (e) => { queue.push(e); wake?.(); },
      fail: (err) => { failure = err; wake?.(); },
    };
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
        if (failure !== undefined) throw failure;
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
