// A reload of the config file, applied to the running daemon (reload-plan.ts decides what changes;
// this carries it out): binds the new addresses first, undoes all of it on a failure, then hands
// the kept listening sockets over, updates services in place, and retires the removed or replaced
// ones, which drain in the background.

import type { Activation } from '../core/activation/activation.ts';
import { describe, PortwakeError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { ReloadResult } from '../core/status.ts';
import { loadConfig } from '../config/load.ts';
import { environmentHasToken } from '../control/token.ts';
import type { PortwakeConfig, ServiceConfig } from '../config/types.ts';
import type { BoundListener } from '../proxy/accept/listen.ts';
import { adoptSystemdListeners } from '../systemd/adopt.ts';
import { listenKey, planReload, type BindSpec, type ReloadPlan, type Released } from './reload-plan.ts';
import { frontendLimits, inConfigOrder, type RunningService } from './service.ts';

/** What a reload reads and changes of the daemon (daemon.ts). */
export interface ReloadHost {
  /** The engines portwake started with, by name (fixed until a restart). */
  engines(): readonly string[];
  /** The file to re-read; undefined when the config came from flags. */
  readonly configPath: string | undefined;
  /** The daemon's environment (a control token there satisfies a non-loopback control: address). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** --listen-from-systemd: the sockets come from systemd, not from the file's listen: entries. */
  readonly listenFromSystemd: boolean;
  readonly logger: Logger;
  /** How long a retired service's open connections may finish. */
  readonly graceMs: number;
  /** The daemon's lifetime (a successor's start is cancelled by shutdown). */
  readonly signal: AbortSignal;
  shuttingDown(): boolean;
  /** The running services, by name; replaced as a whole by setUnits. */
  units(): Map<string, RunningService>;
  setUnits(units: Map<string, RunningService>): void;
  config(): PortwakeConfig;
  setConfig(config: PortwakeConfig): void;
  /** Retired services whose open connections are still draining. */
  readonly draining: Map<RunningService, Promise<void>>;
  /** Activations that took over a running container portwake started before a reload (--stop-on-exit). */
  readonly inherited: WeakSet<Activation>;
  /** Retired activations that started a container no service uses any more (--stop-on-exit). */
  readonly orphans: Set<Activation>;
  /** A service listening on nothing yet (the reload binds its addresses). */
  build(config: ServiceConfig): RunningService;
  /** The config to run: the file's services joined with the discovered ones (daemon/discovery/); undefined: the file's. */
  compose?(file: PortwakeConfig): PortwakeConfig;
  notifyStatus(): void;
  scheduleHeapRelease(): void;
}

/** Runs one reload at a time (the daemon queues them); keeps the file's listen entries between reloads. */
export class Reloader {
  /** The services' listen entries as the file has them (with --listen-from-systemd, not what portwake listens on). */
  #fileListen: Map<string, string[]>;
  #file: PortwakeConfig;

  /** `file`: the config as read at start-up, before systemd's sockets were adopted. */
  constructor(private readonly d: ReloadHost, file: PortwakeConfig) {
    this.#fileListen = listenTexts(file);
    this.#file = file;
  }

  /** The file's config as last applied (what a change of the discovered services is joined with). */
  get file(): PortwakeConfig {
    return this.#file;
  }

  /**
   * Applies the config file (reload-plan.ts decides what changes). First everything that can fail:
   * new addresses are bound (those overlapping a listener that closes, after it has closed); on a
   * failure all of it is undone and the running services stay as they were. Then, in one step, the
   * listening sockets of unchanged addresses move to the service that keeps them (nothing in their
   * backlog is lost, no connection is refused), services whose container and upstream stayed are
   * updated in place (their open connections untouched), and removed or replaced services stop
   * accepting and drain in the background.
   */
  async run(): Promise<ReloadResult> {
    if (this.d.configPath === undefined) throw new PortwakeError('USAGE', 'this daemon was started from flags, not a config file: nothing to reload');
    if (this.d.shuttingDown()) throw new PortwakeError('ABORTED', 'portwake is shutting down; reload refused');
    const file = await loadConfig(this.d.configPath, { tokenFromEnvironment: environmentHasToken(this.d.env) });
    return this.apply(file, 'reload');
  }

  /**
   * Applies a config as the file has it, joined with the discovered services (ReloadHost.compose):
   * `why` 'reload' for the file read anew, 'discovery' for the last file read again with a changed
   * set of labelled containers (their removed services' held connections are closed, not served:
   * their container is gone; nor does it end the services' start back-offs).
   */
  async apply(file: PortwakeConfig, why: 'reload' | 'discovery'): Promise<ReloadResult> {
    if (this.d.shuttingDown()) throw new PortwakeError('ABORTED', 'portwake is shutting down; reload refused');
    const fromSystemd = this.d.listenFromSystemd;
    const own = fromSystemd ? adoptSystemdListeners(file) : file;
    const next = this.d.compose?.(own) ?? own;
    const engines = this.d.engines();
    const unknown = next.services.filter((sv) => sv.command === undefined && !engines.includes(sv.engine ?? 'default'));
    if (unknown.length > 0) {
      throw new PortwakeError('CONFIG_INVALID', unknown.map((sv) => `service "${sv.name}": engine "${sv.engine ?? 'default'}" is not one portwake started with (known: ${engines.join(', ')}); engines: changes take effect when portwake restarts`).join('\n'));
    }
    const plan = planReload([...this.d.units().values()].map((u) => u.config), next, { fromSystemd });
    // Built now, listening on nothing yet: the services added, and the successors of replaced ones.
    const fresh = new Map<string, RunningService>();
    for (const p of plan.services) {
      if (p.action === 'add' || p.action === 'replace') fresh.set(p.config.name, this.d.build(p.config));
    }
    const home = (name: string): RunningService | undefined => fresh.get(name) ?? this.d.units().get(name);
    const bound: Array<{ unit: RunningService; listeners: BoundListener[] }> = [];
    const closedEarly = plan.release.filter((r) => r.early);
    try {
      await Promise.all([...fresh.values()].map((u) => u.frontend.listen()));
      await this.bindAll(plan.services.map((p) => [home(p.config.name), p.bind] as const), bound);
      if (closedEarly.length > 0) {
        await Promise.all(closedEarly.map((r) => this.closeListeners(r.service, r.key)));
        await this.bindAll(plan.services.map((p) => [home(p.config.name), p.bindLate] as const), bound);
      }
    } catch (err) {
      for (const { unit, listeners } of bound) {
        for (const l of unit.frontend.listening.detach((x) => listeners.includes(x))) {
          unit.keys.delete(l.text);
          await l.close();
        }
      }
      for (const u of fresh.values()) {
        await u.frontend.close({ graceMs: 0 });
        u.activation.dispose();
      }
      await this.listenAgain(closedEarly);
      throw err;
    }
    return this.applyReload(plan, next, file, fresh, why);
  }

  /** Binds each unit's new addresses, recording what was bound (for an undo). */
  private async bindAll(work: ReadonlyArray<readonly [RunningService | undefined, readonly BindSpec[]]>, bound: Array<{ unit: RunningService; listeners: BoundListener[] }>): Promise<void> {
    for (const [unit, specs] of work) {
      if (unit === undefined || specs.length === 0) continue;
      const listeners = await unit.frontend.bind(specs);
      bound.push({ unit, listeners });
      for (const l of specs) unit.keys.set(l.text, listenKey(l));
    }
  }

  /** Closes a running service's listeners of one key. */
  private async closeListeners(service: string, key: string): Promise<void> {
    const u = this.d.units().get(service);
    if (u === undefined) return;
    const gone = u.frontend.listening.detach((l) => u.keys.get(l.text) === key);
    for (const l of gone) u.keys.delete(l.text);
    await Promise.all(gone.map((l) => l.close()));
  }

  /** After a failed reload: the listeners closed for it, bound again for their services. */
  private async listenAgain(closed: readonly Released[]): Promise<void> {
    for (const r of closed) {
      const u = this.d.units().get(r.service);
      if (u === undefined || r.spec.kind === 'systemd') continue;
      try {
        await u.frontend.bind([r.spec]);
      } catch (err) {
        this.d.logger.error({ err: describe(err) }, `reload: service "${r.service}" cannot listen on ${r.spec.text} again: ${describe(err)}; not listening there until the next reload or restart`);
      }
    }
  }

  /** The part of a reload that cannot fail: sockets handed over, services updated, retired and swapped. */
  private applyReload(plan: ReloadPlan, next: PortwakeConfig, file: PortwakeConfig, fresh: Map<string, RunningService>, why: 'reload' | 'discovery'): ReloadResult {
    const owner = new Map<string, RunningService>();
    for (const u of this.d.units().values()) for (const key of u.keys.values()) owner.set(key, u);
    for (const p of plan.services) {
      const unit = fresh.get(p.config.name) ?? this.d.units().get(p.config.name);
      if (unit === undefined) continue;
      for (const key of p.reuse) {
        const from = owner.get(key);
        if (from === undefined || from === unit) continue;
        const moved = from.frontend.listening.detach((l) => from.keys.get(l.text) === key);
        unit.frontend.listening.adopt(moved);
        for (const l of moved) {
          from.keys.delete(l.text);
          unit.keys.set(l.text, key);
        }
      }
      if (p.action === 'update') {
        unit.config = p.config;
        unit.activation.update(p.config);
        unit.frontend.setLimits(frontendLimits(p.config));
      }
    }
    for (const r of plan.release.filter((x) => !x.early)) void this.closeListeners(r.service, r.key);
    for (const u of [...this.d.units().values(), ...fresh.values()]) u.activation.listeners = inConfigOrder(u.frontend.listeners, u.config);
    const previous = this.d.units();
    this.d.setUnits(new Map(plan.services.map((p) => [p.config.name, fresh.get(p.config.name) ?? previous.get(p.config.name)] as const).filter((e): e is [string, RunningService] => e[1] !== undefined)));
    for (const name of plan.removed) {
      const u = previous.get(name);
      if (u !== undefined) this.retire(u, 'removed', why === 'discovery' ? 'close' : 'serve');
    }
    for (const p of plan.services) {
      const u = previous.get(p.config.name);
      if (p.action === 'replace' && u !== undefined) this.retire(u, describeUpstreamChange(u.config, p.config), 'serve');
    }
    if (why === 'reload') {
      this.warnRestartOnly(next);
      this.warnSystemdListen(file);
      // A reload is a retry: services backing off after failed starts try again on the next connection.
      for (const u of this.d.units().values()) u.activation.clearBackoff('a config reload');
    }
    this.#file = file;
    const running = this.d.config();
    this.d.setConfig({ ...next, engineHost: running.engineHost, engines: running.engines, control: running.control, discovery: running.discovery });
    this.d.notifyStatus();
    const { result } = plan;
    const inPlace = plan.services.filter((p) => p.action === 'update').map((p) => p.config.name);
    this.d.logger.info({ ...result, inPlace }, `${why === 'reload' ? 'config reloaded' : 'discovery applied'}: ${result.added.length} added, ${result.removed.length} removed, ${result.changed.length} changed (${inPlace.length} in place)`);
    this.d.scheduleHeapRelease();
    return result;
  }

  /**
   * Stops a removed or replaced service accepting (its kept addresses were handed over already)
   * and lets its open connections drain up to the grace period, in the background; those still
   * open then are closed (the frontend logs it). Then its activation is disposed; a successor for
   * the same container takes over the running container (ready, its idle timer armed, and still
   * owned for --stop-on-exit when portwake started it; a paused one is unpaused). A paused container
   * no service uses any more is stopped.
   */
  private retire(u: RunningService, why: string, held: 'close' | 'serve'): void {
    const open = u.frontend.open;
    if (open > 0) {
      this.d.logger.info({ service: u.config.name, open, graceMs: this.d.graceMs }, `reload: service "${u.config.name}" ${why}: its ${open} open connection(s) may finish within ${this.d.graceMs}ms, then are closed`);
    }
    // Connections held for a start in flight are served by it, as open ones finish: none is dropped
    // (unless the container is gone: a discovered one removed).
    const drained = u.frontend.close({ graceMs: this.d.graceMs, held }).then(async () => {
      const owned = u.activation.ownsRunningContainer;
      const kind = u.activation.stateKind;
      const ready = kind === 'ready';
      const frozen = kind === 'pausing' || kind === 'paused' || kind === 'unpausing';
      u.activation.dispose();
      this.d.draining.delete(u);
      const successor = this.d.units().get(u.config.name);
      if ((ready || frozen) && successor !== undefined && successor !== u && successor.config.container === u.config.container && !this.d.shuttingDown()) {
        if (owned) this.d.inherited.add(successor.activation);
        if (successor.activation.stateKind === 'stopped' || successor.activation.stateKind === 'failed') {
          // Failures are logged by the activation itself. A paused container is unpaused by the start.
          await successor.activation.ensureReady(this.d.signal).catch(() => undefined);
        }
      } else if (frozen) {
        // Nobody would ever unpause it: stopped, as its idle rule would have done (logged by the activation).
        await u.activation.stop('removed');
      } else if (owned) {
        this.d.orphans.add(u.activation);
      }
    });
    this.d.draining.set(u, drained);
  }

  /**
   * With --listen-from-systemd the sockets come from systemd: a changed `listen:` in the file is
   * not applied (the service keeps the sockets it has); says what would apply it.
   */
  private warnSystemdListen(file: PortwakeConfig): void {
    const now = listenTexts(file);
    if (this.d.listenFromSystemd) {
      for (const [name, listen] of now) {
        const before = this.#fileListen.get(name);
        if (before === undefined || before.join(', ') === listen.join(', ')) continue;
        this.d.logger.warn(
          { service: name, from: before, to: listen },
          `reload: service "${name}": listen changed (${before.join(', ')} → ${listen.join(', ')}), but its sockets come from systemd (--listen-from-systemd) and stay as they are. ` +
            'To apply it: "portwake generate systemd" again, install the units, "systemctl daemon-reload", then restart portwake\'s socket units and its service',
        );
      }
    }
    this.#fileListen = now;
  }

  /** The engine and the control API are set up once; a reload only warns about changes to them. */
  private warnRestartOnly(next: PortwakeConfig): void {
    if (next.engineHost !== this.d.config().engineHost) this.d.logger.warn({}, 'reload: engine: changes take effect when portwake restarts, ignoring');
    if (JSON.stringify(next.engines ?? []) !== JSON.stringify(this.d.config().engines ?? [])) this.d.logger.warn({}, 'reload: engines: changes take effect when portwake restarts, ignoring');
    if (JSON.stringify(next.control) !== JSON.stringify(this.d.config().control)) this.d.logger.warn({}, 'reload: control: changes take effect when portwake restarts, ignoring');
    if (next.discovery !== undefined && JSON.stringify(next.discovery) !== JSON.stringify(this.d.config().discovery)) this.d.logger.warn({}, 'reload: discovery: changes take effect when portwake restarts, ignoring');
  }
}

/** Each service's listen entries as written. */
function listenTexts(config: PortwakeConfig): Map<string, string[]> {
  return new Map(config.services.map((s) => [s.name, s.listen.map((l) => l.text)]));
}

/** Why a changed service was replaced rather than updated in place, for the log. */
function describeUpstreamChange(a: ServiceConfig, b: ServiceConfig): string {
  if (a.container !== b.container) return `changed its container ("${a.container}" → "${b.container}")`;
  return 'changed its upstream';
}
