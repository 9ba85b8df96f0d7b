// Services from container labels, kept true while portwake runs: lists the labelled containers,
// turns each one's labels into a service (config/labels.ts; a container with a bad label is
// reported once and skipped), then follows the engine's create/rename/destroy events and lists
// again after each burst of them (and after the stream reconnects, since events may have been
// missed). The daemon applies each new set like a reload (daemon.ts, reload.ts).

import { sleep, type Clock, type TimerHandle } from '../../core/clock.ts';
import { describe } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { formatLabelProblem, hasPrefixLabel, serviceFromLabels, type LabelProblem, type Routers } from '../../config/labels.ts';
import type { LabelSource, LabelledContainerInfo } from './label-source.ts';
import type { Candidate } from './merge.ts';

export interface Found {
  /** Valid services, in the order their containers were first seen. */
  candidates: Candidate[];
  /** Every label problem (those containers are skipped). */
  problems: LabelProblem[];
}

export interface DiscoveryOptions {
  source: LabelSource;
  labelPrefix: string;
  /** The file's HTTP and TLS routers (which a hosts label needs); default: none. */
  routers?: Routers;
  /** The engine's name when it is not the default one: set on its services and named in its problems. */
  engine?: string;
  clock: Clock;
  logger: Logger;
  /** Ends following (shutdown). */
  signal: AbortSignal;
  /** A changed set of services (after the first list: only when it changed). */
  onChange(found: Found): void;
}

/** Events come in bursts (compose creates a project's containers one after another; a recreate is create + destroy): one listing after each. */
export const SETTLE_MS = 150;
const FIRST_RETRY_MS = 100;
const MAX_RETRY_MS = 5_000;

const COMPOSE = ['com.docker.compose.project', 'com.docker.compose.service', 'com.docker.compose.container-number'] as const;

export class Discovery {
  /** The order containers were first seen in: an older container keeps its service in a clash. */
  readonly #order = new Map<string, number>();
  #next = 0;
  /** Problems already logged, per container name. */
  readonly #reported = new Map<string, Set<string>>();
  #last = '';
  #settle: TimerHandle | undefined;
  #syncing: Promise<void> = Promise.resolve();

  constructor(private readonly o: DiscoveryOptions) {}

  /** Lists the containers now and turns them into services. Rejects when the engine does not answer. */
  async find(signal?: AbortSignal): Promise<Found> {
    return this.found(await this.o.source.list(signal));
  }

  /** The services these containers describe (pure but for the order it remembers). */
  found(all: readonly LabelledContainerInfo[]): Found {
    const listed = all.filter((c) => hasPrefixLabel(c.labels, this.o.labelPrefix));
    const fresh = listed.filter((c) => !this.#order.has(c.id)).sort((a, b) => a.created - b.created || a.name.localeCompare(b.name));
    for (const c of fresh) this.#order.set(c.id, this.#next++);
    const present = new Set(listed.map((c) => c.id));
    for (const id of this.#order.keys()) if (!present.has(id)) this.#order.delete(id);
    const ordered = [...listed].sort((a, b) => (this.#order.get(a.id) ?? 0) - (this.#order.get(b.id) ?? 0));
    const candidates: Candidate[] = [];
    const problems: LabelProblem[] = [];
    const { engine } = this.o;
    for (const c of withoutReplaced(ordered)) {
      const r = serviceFromLabels(c, this.o.labelPrefix, this.o.routers);
      if (!r.ok) {
        problems.push(...(engine === undefined ? r.problems : r.problems.map((p) => ({ ...p, engine }))));
        continue;
      }
      const nameLabel = `${this.o.labelPrefix}.name`;
      candidates.push({
        id: c.id, container: c.name,
        ...(engine === undefined ? { service: r.service } : { engine, service: { ...r.service, engine } }),
        labelOf: (key) => (key === 'name' ? (c.labels[nameLabel] === undefined ? undefined : nameLabel) : r.labelOf(key)),
      });
    }
    return { candidates, problems };
  }

  /** Logs each problem once per container (again only when it changes). `listed`: the names of the containers listed. */
  report(found: Found, listed: Iterable<string>): void {
    const names = new Set(listed);
    for (const name of this.#reported.keys()) if (!names.has(name)) this.#reported.delete(name);
    const byContainer = new Map<string, LabelProblem[]>();
    for (const p of found.problems) byContainer.set(p.container, [...(byContainer.get(p.container) ?? []), p]);
    for (const [container, problems] of byContainer) {
      const key = problems.map(formatLabelProblem).join('\n');
      const seen = this.#reported.get(container) ?? new Set<string>();
      if (seen.has(key)) continue;
      seen.add(key);
      this.#reported.set(container, seen);
      this.o.logger.warn({ container, problems: problems.map((p) => ({ label: p.label, message: p.message })) },
        `discovery: ${problems.map(formatLabelProblem).join('; ')}; container skipped until its labels are fixed (recreate it)`);
    }
  }

  /** Lists once (for start-up), reports, and hands the services over. Rejects when the engine does not answer. */
  async syncNow(): Promise<void> {
    const listed = await this.o.source.list(this.o.signal);
    const found = this.found(listed);
    this.report(found, listed.map((c) => c.name));
    const key = fingerprint(found);
    if (key === this.#last) return;
    this.#last = key;
    this.o.onChange(found);
  }

  /** Follows the engine's events until the signal aborts; never rejects. */
  async follow(): Promise<void> {
    let delay = FIRST_RETRY_MS;
    let broken = false;
    const { signal, logger } = this.o;
    while (!signal.aborted) {
      try {
        const iterator = this.o.source.events(signal)[Symbol.asyncIterator]();
        let next = iterator.next();
        if (broken) {
          // Subscribed first, then listed: nothing that happens from now on can be missed.
          await Promise.race([next.then(() => undefined), sleep(this.o.clock, 50, signal)]);
          logger.info({ engine: this.o.source.endpoint }, 'discovery: events stream re-established; listing labelled containers again');
          broken = false;
          this.schedule(0);
        }
        for (;;) {
          const r = await next;
          if (r.done === true) break;
          delay = FIRST_RETRY_MS;
          logger.debug({ event: r.value.kind, container: r.value.name }, `discovery: container "${r.value.name}" ${r.value.kind}`);
          this.schedule(SETTLE_MS);
          next = iterator.next();
        }
        if (signal.aborted) return;
        throw new Error('the stream ended');
      } catch (err) {
        if (signal.aborted) return;
        if (!broken) logger.warn({ engine: this.o.source.endpoint, err: describe(err) }, `discovery: events stream lost (${describe(err)}); reconnecting`);
        broken = true;
      }
      await sleep(this.o.clock, delay, signal).catch(() => undefined);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
    this.#settle?.cancel();
  }

  /** Lists again after `ms` (a failed start-up listing). */
  resync(ms: number): void {
    this.schedule(ms);
  }

  /** One listing after `ms` (later events push it back no further: the first one sets it). */
  private schedule(ms: number): void {
    if (this.#settle !== undefined || this.o.signal.aborted) return;
    this.#settle = this.o.clock.setTimer(ms, () => {
      this.#settle = undefined;
      this.#syncing = this.#syncing.then(() => this.syncNow()).catch((err: unknown) => {
        if (this.o.signal.aborted) return;
        this.o.logger.warn({ engine: this.o.source.endpoint, err: describe(err) }, `discovery: listing labelled containers failed (${describe(err)}); trying again in ${MAX_RETRY_MS}ms`);
        this.schedule(MAX_RETRY_MS);
      });
    });
  }
}

/**
 * Compose recreates a container (a changed label, say) as a new one of the same project, service
 * and number, then removes the old one: the newer stands for that slot, so the two never clash.
 */
function withoutReplaced(ordered: readonly LabelledContainerInfo[]): LabelledContainerInfo[] {
  const newest = new Map<string, LabelledContainerInfo>();
  for (const c of ordered) {
    const parts = COMPOSE.map((l) => c.labels[l]);
    if (parts.some((p) => p === undefined)) continue;
    const key = parts.join('/');
    const seen = newest.get(key);
    if (seen === undefined || c.created >= seen.created) newest.set(key, c);
  }
  return ordered.filter((c) => {
    const parts = COMPOSE.map((l) => c.labels[l]);
    return parts.some((p) => p === undefined) || newest.get(parts.join('/')) === c;
  });
}

function fingerprint(found: Found): string {
  return JSON.stringify([found.candidates.map((c) => [c.id, c.container, c.service]), found.problems]);
}
