// The last few cold starts per service, kept from `activated` events for the dashboard's chart
// (status() only holds the last one).

import type { DaemonEvent, StartTimings } from '../core/status.ts';

export interface StartSample {
  at: number;
  containerStartMs: number;
  readinessMs: number;
  /** How long the triggering connection waited, when a connection triggered the start. */
  firstWaitMs: number | undefined;
}

export class StartHistory {
  readonly #samples = new Map<string, StartSample[]>();

  /** @param limit samples kept per service; older ones are dropped. */
  constructor(readonly limit = 24) {}

  observe(event: DaemonEvent): void {
    if (event.type !== 'activated' || !event.timings.startedByUs) return;
    const list = this.#samples.get(event.service) ?? [];
    list.push(sample(event.timings, event.firstWaitMs));
    if (list.length > this.limit) list.splice(0, list.length - this.limit);
    this.#samples.set(event.service, list);
  }

  /**
   * Samples for a service, oldest first. When none were seen (the API started after the start),
   * falls back to the status's last start so the chart is never empty without reason.
   */
  get(service: string, lastStart: StartTimings | undefined): StartSample[] {
    const list = this.#samples.get(service);
    if (list !== undefined && list.length > 0) return [...list];
    return lastStart?.startedByUs === true ? [sample(lastStart, undefined)] : [];
  }

  /** Drops services that no longer exist (after a reload). */
  retain(services: ReadonlySet<string>): void {
    for (const name of this.#samples.keys()) if (!services.has(name)) this.#samples.delete(name);
  }
}

function sample(t: StartTimings, firstWaitMs: number | undefined): StartSample {
  return { at: t.at, containerStartMs: t.containerStartMs, readinessMs: t.readinessMs, firstWaitMs };
}
