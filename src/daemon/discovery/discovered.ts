// The daemon's side of discovery: keeps the labelled containers' services as discovery last found
// them, joins them with the file's (merge.ts: clashes logged once each), and applies each change
// through the reload machinery (reload.ts's Reloader.apply), in the daemon's reload queue.

import { basename } from 'node:path';
import type { Clock } from '../../core/clock.ts';
import { describe } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import { DEFAULT_ENGINE } from '../../config/engines.ts';
import { formatLabelProblem, type Routers } from '../../config/labels.ts';
import type { PortwakeConfig, ServiceConfig } from '../../config/types.ts';
import { sameService } from '../reload-plan.ts';
import { Discovery, type Found } from './discovery.ts';
import type { LabelSource } from './label-source.ts';
import { mergeDiscovered, type Candidate } from './merge.ts';

export interface DiscoveredHost {
  readonly logger: Logger;
  readonly clock: Clock;
  /** The daemon's lifetime: following ends with it. */
  readonly signal: AbortSignal;
  /** The config file's path, for clash messages (undefined: no file). */
  readonly configPath: string | undefined;
  shuttingDown(): boolean;
  /** A running service's config by name (what a change is compared with). */
  running(name: string): ServiceConfig | undefined;
  /** Reapplies the file's config as last applied, joined with compose()'s result (Reloader.apply(…, 'discovery')). */
  apply(): Promise<unknown>;
  /** Queues work after the reloads in flight (one reload at a time). */
  enqueue(work: () => Promise<void>): Promise<void>;
}

/** One engine's discovery. */
interface EngineDiscovery {
  engine: string;
  source: LabelSource;
  discovery: Discovery;
  logger: Logger;
  /** Its labelled containers' valid services, as it last found them. */
  candidates: Candidate[];
}

export class DiscoveredServices {
  /** One per engine, the default one first: their services join in this order. */
  readonly #engines: EngineDiscovery[] = [];
  /** While a failed change is applied piece by piece: what compose() joins instead. */
  #override: Candidate[] | undefined;
  /** Containers whose service could not be applied (an address taken by another program): skipped until recreated. */
  readonly #unservable = new Map<string, string>();
  /** Clashes logged already (each is logged once while it lasts). */
  #clashes = new Set<string>();

  /** `sources`: each engine's, by engine name ("default" for the default engine). */
  /** `routers`: the file's HTTP and TLS routers, as at start (a hosts label needs one). */
  constructor(private readonly h: DiscoveredHost, sources: ReadonlyMap<string, LabelSource>, labelPrefix: string, routers: Routers) {
    for (const [engine, source] of sources) {
      const logger = sources.size > 1 ? h.logger.child({ engine }) : h.logger;
      const e: EngineDiscovery = {
        engine, source, logger, candidates: [],
        discovery: new Discovery({
          source, labelPrefix, routers, clock: h.clock, logger, signal: h.signal,
          ...(engine === DEFAULT_ENGINE ? {} : { engine }),
          onChange: (found) => this.#changed(e, found),
        }),
      };
      this.#engines.push(e);
    }
  }

  /** Every engine's valid services, in engine order. */
  get #candidates(): Candidate[] {
    return this.#engines.flatMap((e) => e.candidates);
  }

  /**
   * Lists the labelled containers and serves them (like a reload), then follows the engine's
   * events in the background. An engine that does not answer is logged; discovery keeps trying.
   */
  async start(): Promise<void> {
    // Each engine on its own: one that does not answer delays none of the others.
    await Promise.all(this.#engines.map(async (e) => {
      try {
        await e.discovery.syncNow();
      } catch (err) {
        e.logger.warn({ endpoint: e.source.endpoint, err: describe(err) }, `discovery: listing labelled containers failed (${describe(err)}); serving the other services, trying again`);
        e.discovery.resync(1_000);
      }
    }));
    await this.h.enqueue(async () => undefined);
    for (const e of this.#engines) void e.discovery.follow();
  }

  /** The file's services joined with the discovered ones; clashes are logged once each. */
  compose(file: PortwakeConfig): PortwakeConfig {
    const candidates = (this.#override ?? this.#candidates).filter((c) => !this.#unservable.has(c.id));
    const merged = mergeDiscovered(file, candidates, this.h.configPath === undefined ? 'the command line' : basename(this.h.configPath));
    const now = new Set(merged.clashes.map(formatLabelProblem));
    for (const text of now) {
      if (!this.#clashes.has(text)) this.h.logger.warn({}, `discovery: ${text}`);
    }
    this.#clashes = now;
    return merged.config;
  }

  #changed(e: EngineDiscovery, found: Found): void {
    e.candidates = found.candidates;
    const ids = new Set(this.#candidates.map((c) => c.id));
    for (const id of this.#unservable.keys()) if (!ids.has(id)) this.#unservable.delete(id);
    this.h.enqueue(() => this.#apply()).catch(() => undefined);
  }

  /**
   * Applies the discovered services. When that fails (another program holds an address, say), the
   * unchanged ones are applied without the new ones, then each new one alone: one that still fails
   * is logged and skipped until its container is recreated, and the others are served.
   */
  async #apply(): Promise<void> {
    if (this.h.shuttingDown()) return;
    try {
      await this.h.apply();
      return;
    } catch (err) {
      if (this.h.shuttingDown()) return;
      this.h.logger.debug({ err: describe(err) }, `discovery: applying every change at once failed (${describe(err)}); applying them one at a time`);
    }
    const all = this.#candidates;
    const changed = (c: Candidate): boolean => {
      const running = this.h.running(c.service.name);
      return running === undefined || !sameService(running, c.service);
    };
    let applied = all.filter((c) => !changed(c));
    this.#override = applied;
    try {
      await this.h.apply();
      for (const c of all.filter(changed)) {
        this.#override = [...applied, c];
        try {
          await this.h.apply();
          applied = this.#override;
        } catch (err) {
          this.#override = applied;
          this.#unservable.set(c.id, describe(err));
          this.h.logger.warn({ container: c.container, service: c.service.name, err: describe(err) },
            `discovery: container "${c.container}": service "${c.service.name}" cannot be served: ${describe(err)}; skipped until the container is recreated`);
        }
      }
    } catch (err) {
      this.h.logger.error({ err: describe(err) }, `discovery: the labelled containers' services could not be applied: ${describe(err)}; the running services stay as they are`);
    } finally {
      this.#override = undefined;
    }
  }
}
