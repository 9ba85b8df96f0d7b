// The composition root: the one place that knows every concrete class. Builds the provider, the
// services (activation + frontend), the events watcher, sd_notify, the control API; runs until
// shutdown; reloads the config on request.

import { systemClock, type Clock } from './core/clock.ts';
import { describe, PortwakeError } from './core/errors.ts';
import { watchEvents } from './core/events-watch.ts';
import type { Logger } from './core/logger.ts';
import type { Provider } from './core/provider.ts';
import type { DaemonControl, DaemonEvent, ReloadResult, ServiceStatus } from './core/status.ts';
import { loadConfig } from './config/load.ts';
import type { PortwakeConfig, ServiceConfig } from './config/types.ts';
import { startControlServer, type ControlServer } from './control/server.ts';
import { warnIfFdLimitLow } from './fd-limit.ts';
import { networkProbes } from './probes/index.ts';
import { DEFAULT_DOCKER_HOST, dockerTlsFromEnv } from './providers/docker/connect.ts';
import { createDockerProvider } from './providers/docker/provider.ts';
import type { ListenTarget } from './proxy/listen.ts';
import { createServiceUnit, listenAll, sameService, type ServiceUnit } from './service-unit.ts';
import { ExitIdleTimer } from './systemd/exit-idle.ts';
import { takeListenFds } from './systemd/listen-fds.ts';
import { createNotifier, type Notifier } from './systemd/notify.ts';
import { createFdTypeLookup } from './systemd/socket-type.ts';
import { formatStatusLine } from './systemd/status-line.ts';
import { startWatchdog, watchdogIntervalMs, type Watchdog } from './systemd/watchdog.ts';

export interface DaemonOptions {
  config: PortwakeConfig;
  /** The file to re-read on reload; undefined when the config came from flags. */
  configPath: string | undefined;
  logger: Logger;
  env: Record<string, string | undefined>;
  /** Stop, on shutdown, the containers portwake itself started. */
  stopOnExit: boolean;
  /** How long open connections may finish on shutdown. */
  graceMs: number;
  /** Exit when every service has been idle this long (systemd-socket-proxyd's --exit-idle-time). */
  exitIdleMs: number | undefined;
  /** Injected in tests; default: the Docker provider for config.engineHost / DOCKER_HOST. */
  provider?: Provider;
  clock?: Clock;
  notifier?: Notifier;
}

export class Daemon implements DaemonControl {
  private units = new Map<string, ServiceUnit>();
  private readonly subscribers = new Set<(e: DaemonEvent) => void>();
  private readonly lifetime = new AbortController();
  private control: ControlServer | undefined;
  private exitIdle: ExitIdleTimer | undefined;
  private watchdog: Watchdog | undefined;
  private shuttingDown: Promise<void> | undefined;
  private resolveDone!: () => void;
  /** Resolves when the daemon has shut down. */
  readonly done = new Promise<void>((r) => { this.resolveDone = r; });

  private constructor(
    private config: PortwakeConfig,
    private readonly o: DaemonOptions,
    private readonly provider: Provider,
    private readonly clock: Clock,
    private readonly notifier: Notifier,
  ) {}

  /** Binds every listener (all or nothing) and starts serving. Starts no container. */
  static async start(o: DaemonOptions): Promise<Daemon> {
    const clock = o.clock ?? systemClock;
    const provider = o.provider ?? createDockerProvider({ host: o.config.engineHost ?? o.env['DOCKER_HOST'] ?? DEFAULT_DOCKER_HOST, ...dockerTlsFromEnv(o.env) });
    const notifier = o.notifier ?? (await createNotifier(o.env, o.logger));
    const d = new Daemon(o.config, o, provider, clock, notifier);
    await d.boot();
    return d;
  }

  private async boot(): Promise<void> {
    warnIfFdLimitLow(this.config.services, this.o.logger);
    const fds = this.systemdListeners(this.config.services);
    const units = this.config.services.map((s) => this.build(s, fds));
    await listenAll(units);
    for (const u of units) this.units.set(u.config.name, u);
    void watchEvents({
      provider: this.provider,
      clock: this.clock,
      logger: this.o.logger,
      signal: this.lifetime.signal,
      onEvent: (e) => {
        for (const u of this.units.values()) if (u.activation.matches(e)) void u.activation.onContainerEvent(e);
      },
      onResync: (cause) => {
        for (const u of this.units.values()) void u.activation.resync(cause);
      },
    });
    if (this.config.control !== undefined) {
      try {
        this.control = await startControlServer({ config: this.config.control, control: this, logger: this.o.logger });
      } catch (err) {
        await this.shutdown('control API failed to start');
        throw err;
      }
    }
    if (this.o.exitIdleMs !== undefined) {
      this.exitIdle = new ExitIdleTimer({
        idleMs: this.o.exitIdleMs,
        clock: this.clock,
        services: () => this.status(),
        onExit: () => {
          this.o.logger.info({ exitIdleMs: this.o.exitIdleMs }, `every service idle for ${this.o.exitIdleMs}ms; exiting (--exit-idle-time)`);
          void this.shutdown('exit-idle-time');
        },
      });
    }
    const watchdogMs = watchdogIntervalMs(this.o.env, process.pid);
    if (watchdogMs !== undefined) this.watchdog = startWatchdog(this.notifier, watchdogMs, this.clock);
    this.notifier.ready();
    this.notifier.status(formatStatusLine(this.status()));
    this.o.logger.info(
      { services: this.units.size, control: this.control?.address },
      `listening: ${[...this.units.values()].map((u) => `${u.config.name} on ${u.frontend.listeners.join(', ')}`).join('; ')}`,
    );
  }

  private build(s: ServiceConfig, fds: Map<string, ListenTarget[]>): ServiceUnit {
    const listen: ListenTarget[] = [...(fds.get(s.name) ?? [])];
    for (const l of s.listen) if (l.kind !== 'systemd') listen.push(l);
    return createServiceUnit(s, listen, { provider: this.provider, probes: networkProbes, clock: this.clock, logger: this.o.logger, emit: (e) => this.emit(e) }, this.o.logger);
  }

  /** Sockets passed by systemd, per service (the LISTEN_* variables are consumed once). */
  private systemdListeners(services: readonly ServiceConfig[]): Map<string, ListenTarget[]> {
    const out = new Map<string, ListenTarget[]>();
    // Always consumed: sockets passed to a config that claims none are a start-up error too.
    for (const c of takeListenFds(services, this.o.env, process.pid, createFdTypeLookup())) {
      const list = out.get(c.service) ?? [];
      list.push({ kind: 'fd', fd: c.fd, text: `systemd:${c.name} (fd ${c.fd})` });
      out.set(c.service, list);
    }
    return out;
  }

  private emit(e: DaemonEvent): void {
    for (const fn of this.subscribers) {
      try {
        fn(e);
      } catch (err) {
        this.o.logger.warn({ err: describe(err) }, `event subscriber failed: ${describe(err)}, ignoring`);
      }
    }
    if (e.type === 'state') this.notifier.status(formatStatusLine(this.status()));
    if (e.type !== 'activated') this.exitIdle?.poke();
  }

  // ---- DaemonControl ----

  status(): ServiceStatus[] {
    return [...this.units.values()].map((u) => {
      const s = u.activation.status();
      return { ...s, listeners: u.frontend.listeners, heldConnections: u.frontend.held };
    });
  }

  async start(service: string): Promise<void> {
    await this.unit(service).activation.ensureReady(this.lifetime.signal);
  }

  async stop(service: string): Promise<void> {
    await this.unit(service).activation.stop('control');
  }

  subscribe(fn: (event: DaemonEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  async reload(): Promise<ReloadResult> {
    if (this.o.configPath === undefined) throw new PortwakeError('USAGE', 'this daemon was started from flags, not a config file: nothing to reload');
    const next = await loadConfig(this.o.configPath);
    const result: ReloadResult = { added: [], removed: [], changed: [] };
    const nextNames = new Set(next.services.map((s) => s.name));
    const retired: ServiceUnit[] = [];
    for (const [name, u] of this.units) {
      if (!nextNames.has(name)) {
        result.removed.push(name);
        retired.push(u);
      }
    }
    const fresh: ServiceUnit[] = [];
    for (const s of next.services) {
      const old = this.units.get(s.name);
      if (old !== undefined && sameService(old.config, s)) continue;
      if (old === undefined) result.added.push(s.name);
      else {
        result.changed.push(s.name);
        retired.push(old);
      }
      if (s.listen.some((l) => l.kind === 'systemd')) {
        throw new PortwakeError('CONFIG_INVALID', `${next.source}: service "${s.name}": a reload cannot take new systemd sockets; restart portwake`);
      }
      fresh.push(this.build(s, new Map()));
    }
    // Free the addresses first (closing stops accepting at once), then bind the new listeners;
    // open connections of retired services drain in the background.
    const draining = retired.map((u) => u.frontend.close({ graceMs: this.o.graceMs }).then(() => u.activation.dispose()));
    try {
      await listenAll(fresh);
    } catch (err) {
      this.o.logger.error({ err: describe(err) }, `reload failed while binding: ${describe(err)}; the changed services are not listening until the next reload`);
      for (const u of retired) this.units.delete(u.config.name);
      throw err;
    }
    for (const u of retired) this.units.delete(u.config.name);
    for (const u of fresh) this.units.set(u.config.name, u);
    this.config = next;
    void Promise.all(draining);
    this.o.logger.info({ ...result }, `config reloaded: ${result.added.length} added, ${result.removed.length} removed, ${result.changed.length} changed`);
    return result;
  }

  // ---- shutdown ----

  /** Stops accepting, lets open connections finish up to the grace period, closes everything. */
  shutdown(reason: string): Promise<void> {
    this.shuttingDown ??= this.runShutdown(reason);
    return this.shuttingDown;
  }

  private async runShutdown(reason: string): Promise<void> {
    this.o.logger.info({ reason, graceMs: this.o.graceMs }, `shutting down (${reason})`);
    this.notifier.stopping();
    this.exitIdle?.stop();
    this.watchdog?.stop();
    await this.control?.close();
    const units = [...this.units.values()];
    await Promise.all(units.map((u) => u.frontend.close({ graceMs: this.o.graceMs })));
    for (const u of units) u.activation.dispose();
    this.lifetime.abort(new PortwakeError('ABORTED', 'daemon shut down'));
    if (this.o.stopOnExit) {
      await Promise.all(units.filter((u) => u.activation.ownsRunningContainer).map((u) => u.activation.stop('shutdown')));
    }
    await this.notifier.flush();
    this.o.logger.info({}, 'stopped');
    this.resolveDone();
  }

  private unit(name: string): ServiceUnit {
    const u = this.units.get(name);
    if (u === undefined) throw new PortwakeError('USAGE', `no service named "${name}" (known: ${[...this.units.keys()].join(', ') || 'none'})`);
    return u;
  }
}
