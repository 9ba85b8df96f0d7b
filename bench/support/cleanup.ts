// One stack of undo actions for the whole run (containers, child processes, temp dirs), run in
// reverse order at the end, on a failure, or on Ctrl-C. Every action runs even if another fails.

type Action = { what: string; fn: () => Promise<void> | void };

export class Cleanup {
  readonly #actions: Action[] = [];
  #running: Promise<void> | undefined;

  /** Registers an undo action; returns a function that runs it now (once) and forgets it. */
  defer(what: string, fn: () => Promise<void> | void): () => Promise<void> {
    const action: Action = { what, fn };
    this.#actions.push(action);
    return async () => {
      const i = this.#actions.indexOf(action);
      if (i < 0) return;
      this.#actions.splice(i, 1);
      await fn();
    };
  }

  runAll(): Promise<void> {
    this.#running ??= (async () => {
      while (this.#actions.length > 0) {
        const action = this.#actions.pop();
        if (action === undefined) break;
        try {
          await action.fn();
        } catch (err) {
          process.stderr.write(`bench: cleanup "${action.what}" failed: ${err instanceof Error ? err.message : String(err)}, ignoring\n`);
        }
      }
    })();
    return this.#running;
  }
}
