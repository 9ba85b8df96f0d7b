// The composition root: with wiring.ts (the engine providers, which the CLI commands ask for too),
// the one place that knows every concrete class. Builds the services (activation + frontend), one
// events watcher per engine (from the first start on that engine), sd_notify, the control API;
// runs until shutdown; reloads the config on request (reload.ts).

import type { Activation } from '../core/activation/activation.ts';
import { systemClock, type Clock, type TimerHandle } from '../core/clock.ts';
import { describe, PortwakeError } from '../core/errors.ts';
import { watchEvents } from '../core/events-watch.ts';
import type { Logger } from '../core/logger.ts';
import type { Provider } from '../core/provider.ts';
import type { DaemonControl, DaemonEvent, ReloadResult, ServiceStateKind, ServiceStatus } from '../core/status.ts';
import { DEFAULT_ENGINE } from '../config/engines.ts';
import type { ListenSpec, PortwakeConfig, ServiceConfig } from '../config/types.ts';
import type { ControlServer } from '../control/server.ts';
import { warnIfFdLimitLow } from './fd-limit.ts';
import { releaseHeap } from './heap-release.ts';
import { lazyChildren } from '../log/lazy-logger.ts';
import { networkProbes } from '../probes/index.ts';
import { nativeNetworkProbes } from '../probes/native.ts';
import type { ListenTarget } from '../proxy/accept/listen.ts';
import { DEFAULT_NATIVE_POLICY, nativeSupport, type NativePolicy } from '../proxy/native.ts';
import { HTTP_FD_OWNER, HttpRouting } from './http-routing.ts';
import { dependenciesHook, dependentsOf } from './dependencies.ts';
import { listenKey } from './reload-plan.ts';
import { Reloader } from './reload.ts';
import { createRunningService, inConfigOrder, listenAll, type RunningService } from './service.ts';
import { createLabelSources, createProviders, createServiceProviders, type ServiceProviders } from './wiring.ts';
import { TlsRoutes } from './tls.ts';
import { TlsRouter } from '../proxy/frontends/tls/router.ts';
import { DiscoveredServices } from './discovery/discovered.ts';
import type { LabelSource } from './discovery/label-source.ts';
import { adoptSystemdListeners } from '../systemd/adopt.ts';
import { ExitIdleTimer } from '../systemd/exit-idle.ts';
import { takeListenFds } from '../systemd/listen-fds.ts';
import { createNotifier, noopNotifier, type Notifier } from '../systemd/notify.ts';
import { createFdTypeLookup } from '../systemd/socket-type.ts';
import { formatStatusLine } from '../systemd/status-line.ts';
import { startWatchdog, watchdogIntervalMs, type Watchdog } from '../systemd/watchdog.ts';

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
  /**
   * --listen-from-systemd: every service listens on the sockets systemd passed (adopt.ts), at
   * start and after each reload (the file keeps its addresses; changing one needs a restart).
   */
  listenFromSystemd?: boolean;
  /** Injected in tests: the default engine's provider; default: wiring.ts's provider for config.engineHost. */
  provider?: Provider;
  /** Injected in tests: providers by engine name (the default one is "default"); the others come from wiring.ts. */
  providers?: ReadonlyMap<string, Provider>;
  /** Injected in tests: discovery's view of each engine, by engine name; default: wiring.ts's for config.discovery (none without it). */
  labelSources?: ReadonlyMap<string, LabelSource>;
  clock?: Clock;
  notifier?: Notifier;
}

/** How long after start-up (or a reload) the heap it grew is given back. */
const HEAP_RELEASE_DELAY_MS = 250;

export class Daemon implements DaemonControl {
  private units = new Map<string, RunningService>();
  private readonly subscribers = new Set<(e: DaemonEvent) => void>();
  private readonly lifetime = new AbortController();
  private control: ControlServer | undefined;
  /** The HTTP Host router (top-level `http:`), when configured. */
  private http: HttpRouting | undefined;
  private exitIdle: ExitIdleTimer | undefined;
  private watchdog: Watchdog | undefined;
  private shuttingDown: Promise<void> | undefined;
  /** Each provider's events stream, followed from its first start until shutdown (watchEngine). */
  private readonly eventsWatches = new Map<Provider, Promise<void>>();
  /** Which provider runs each service's (and each retired service's) activation: its events go to it alone. */
  private readonly providerOf = new WeakMap<Activation, Provider>();
  /** What each engine's services log through, naming the engine when there are several. */
  private readonly engineLoggers = new Map<string, Logger>();
  /** The collection that follows start-up and each reload (scheduleHeapRelease). */
  private heapRelease: TimerHandle | undefined;
  /** The tail of the reload queue: reloads run one at a time, each reading the file when its turn comes. */
  private reloads: Promise<unknown> = Promise.resolve();
  /** Retired (removed or changed) services whose open connections are still draining. */
  private readonly draining = new Map<RunningService, Promise<void>>();
  /** Applies a reload (reload.ts). */
  private readonly reloader: Reloader;
  /** Activations that took over a running container portwake started before a reload (--stop-on-exit). */
  private readonly inherited = new WeakSet<Activation>();
  /** Retired activations that started a container no service uses any more (--stop-on-exit). */
  private readonly orphans = new Set<Activation>();
  /** What services log through: their child loggers are made when they first write a line. */
  private readonly serviceLogger: Logger;
  /** The native data path's policy where its addon is available (and PORTWAKE_NATIVE is not off). */
  private readonly native: NativePolicy | undefined;
  private readonly dataPath: string;
  /** The shared TLS listeners (`tls:`), routed by SNI to the services' frontends. */
  private tlsRouter: TlsRouter | undefined;
  private readonly tlsRoutes = new TlsRoutes(() => this.units, () => this.config.tls);
  /** Services from container labels (config.discovery), kept true from the engine's events. */
  private discovered: DiscoveredServices | undefined;
  private resolveDone!: () => void;
  /** Resolves when the daemon has shut down. */
  readonly done = new Promise<void>((r) => { this.resolveDone = r; });

  private constructor(
    private config: PortwakeConfig,
    private readonly o: DaemonOptions,
    /** One provider per engine name, fixed for the daemon's life (engines: changes need a restart). */
    private readonly engines: ReadonlyMap<string, Provider>,
    /** Each service's provider: its engine's, or the command provider. */
    private readonly providers: ServiceProviders,
    private readonly clock: Clock,
    private readonly notifier: Notifier,
  ) {
    this.serviceLogger = lazyChildren(o.logger);
    if (engines.size > 1) for (const name of engines.keys()) this.engineLoggers.set(name, lazyChildren(o.logger.child({ engine: name })));
    this.reloader = new Reloader({
      configPath: o.configPath,
      env: o.env,
      engines: () => [...this.engines.keys()],
      listenFromSystemd: o.listenFromSystemd === true,
      logger: o.logger,
      graceMs: o.graceMs,
      signal: this.lifetime.signal,
      shuttingDown: () => this.shuttingDown !== undefined,
      units: () => this.units,
      setUnits: (units) => { this.units = units; this.tlsRoutes.invalidate(); },
      config: () => this.config,
      setConfig: (next) => {
        const listen = (c: PortwakeConfig): string => JSON.stringify(c.tls?.listen.map((l) => l.text) ?? []);
        if (listen(next) !== listen(this.config)) this.o.logger.warn({}, 'reload: the tls: listeners changed; that takes effect when portwake restarts, ignoring (server names and tls.defaultService apply now)');
        this.config = next;
        this.tlsRoutes.invalidate();
      },
      draining: this.draining,
      inherited: this.inherited,
      orphans: this.orphans,
      build: (s) => this.build(s, new Map(), false),
      compose: (file) => this.discovered?.compose(file) ?? file,
      notifyStatus: () => this.notifyStatus(),
      scheduleHeapRelease: () => this.scheduleHeapRelease(),
    }, o.config);
    const native = nativeSupport(o.env);
    this.native = native.available ? DEFAULT_NATIVE_POLICY : undefined;
    this.dataPath = native.available ? 'native' : `javascript (${native.reason})`;
  }

  /** Binds every listener (all or nothing) and starts serving. Starts no container. */
  static async start(o: DaemonOptions): Promise<Daemon> {
    const clock = o.clock ?? systemClock;
    const engines = createProviders(o.config, o.env);
    for (const [name, p] of o.providers ?? []) engines.set(name, p);
    if (o.provider !== undefined) engines.set(DEFAULT_ENGINE, o.provider);
    const providers = createServiceProviders({ docker: (name) => engines.get(name), logger: o.logger, env: o.env });
    const notifier = o.notifier ?? (await createNotifier(o.env, o.logger, { clock }));
    const config = o.listenFromSystemd === true ? adoptSystemdListeners(o.config) : o.config;
    const d = new Daemon(config, o, engines, providers, clock, notifier);
    await d.boot();
    return d;
  }

  private async boot(): Promise<void> {
    warnIfFdLimitLow(this.config.services, this.o.logger);
    const fds = this.systemdListeners(this.config.services);
    const units = this.config.services.map((s) => this.build(s, fds));
    await listenAll(units);
    for (const u of units) this.units.set(u.config.name, u);
    try {
      await this.startHttp(fds.get(HTTP_FD_OWNER) ?? []);
    } catch (err) {
      await Promise.all(units.map((u) => u.frontend.close({ graceMs: 0 })));
      throw err;
    }
    if (this.config.tls !== undefined) {
      const tls = this.config.tls;
      this.tlsRouter = new TlsRouter({ listen: tls.listen.filter((l): l is ListenTarget & ListenSpec => l.kind !== 'systemd'), route: this.tlsRoutes.route, logger: this.o.logger, clock: this.clock, ...(tls.helloTimeoutMs === undefined ? {} : { helloTimeoutMs: tls.helloTimeoutMs }) });
      try {
        await this.tlsRouter.listen();
      } catch (err) {
        await this.shutdown('tls listener failed');
        throw err;
      }
    }
    if (this.config.control !== undefined) {
      try {
        // Loaded only when configured: the server brings prom-client and the dashboard (~11 MiB).
        const { startControlServer } = await import('../control/server.ts');
        this.control = await startControlServer({ config: this.config.control, control: this, logger: this.o.logger, env: this.o.env, clock: this.clock });
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
    await this.startDiscovery();
    const watchdogMs = watchdogIntervalMs(this.o.env, process.pid);
    if (watchdogMs !== undefined) this.watchdog = startWatchdog(this.notifier, watchdogMs, this.clock);
    this.notifier.ready();
    this.notifyStatus();
    this.o.logger.info(
      { services: this.units.size, control: this.control?.address, dataPath: this.dataPath },
      `listening: ${[...this.units.values()].map((u) => (u.config.listen.length === 0 && u.frontend.listeners.length === 0
        ? (u.config.hosts === undefined ? `${u.config.name} (a dependency, no listener)` : undefined)
        : `${u.config.name} on ${u.frontend.listeners.join(', ')}`)).filter((line) => line !== undefined)
        .concat(this.http === undefined ? [] : [`the HTTP router on ${this.http.listeners.join(', ')}`])
        .concat(this.tlsRouter === undefined ? [] : [`tls (by server name) on ${this.tlsRouter.listeners.join(', ')}`]).join('; ')}`,
    );
    this.scheduleHeapRelease();
  }

  /** With discovery: the labelled containers' services, served like a reload's (discovery/discovered.ts). */
  private async startDiscovery(): Promise<void> {
    const d = this.config.discovery;
    if (d === undefined) return;
    const sources = this.o.labelSources ?? createLabelSources(this.config, this.o.env);
    this.discovered = new DiscoveredServices({
      logger: this.o.logger, clock: this.clock, signal: this.lifetime.signal, configPath: this.o.configPath,
      shuttingDown: () => this.shuttingDown !== undefined,
      running: (name) => this.units.get(name)?.config,
      apply: async () => {
        const result = await this.reloader.apply(this.reloader.file, 'discovery');
        // Hosts from labels: the HTTP router's routes follow, as after a reload.
        await this.applyHttp();
        return result;
      },
      enqueue: (work) => {
        const run = this.reloads.then(work);
        this.reloads = run.catch(() => undefined);
        return run;
      },
    }, sources, d.docker.labelPrefix, { http: this.config.http !== undefined, tls: this.config.tls !== undefined });
    await this.discovered.start();
  }

  /**
   * Soon after start-up or a reload, gives back the heap that loading the config grew (see
   * heap-release.ts: with 1,000 services, ~20 MiB of RSS). Put off while a cold start is in flight
   * (a connection that started portwake through its socket, say): its first byte would wait for
   * the collection's pause.
   */
  scheduleHeapRelease(): void {
    this.heapRelease?.cancel();
    this.heapRelease = this.clock.setTimer(HEAP_RELEASE_DELAY_MS, () => {
      this.heapRelease = undefined;
      if (this.shuttingDown !== undefined) return;
      if ([...this.units.values()].some((u) => u.activation.stateKind === 'starting')) {
        this.scheduleHeapRelease();
        return;
      }
      void releaseHeap(this.o.logger);
    });
  }

  /**
   * Follows a provider's events from its first start on: while its services are stopped there is
   * nothing to watch, and not watching keeps the Docker client (and its memory) unloaded. Called
   * as a service enters 'starting', before its start request is sent, so that the subscription is
   * asked for first; runs until shutdown, reconnecting and resyncing as watchEvents does. Each
   * provider (each engine, and the command provider) has its own: one engine's outage reaches only
   * its own services. `engine`: the engine's name, for the logs when there are several.
   */
  private watchEngine(provider: Provider, engine: string | undefined): void {
    if (this.eventsWatches.has(provider)) return;
    const named = engine !== undefined && this.engines.size > 1;
    const mine = (a: Activation): boolean => this.providerOf.get(a) === provider;
    this.eventsWatches.set(provider, watchEvents({
      provider,
      clock: this.clock,
      logger: named ? this.o.logger.child({ engine }) : this.o.logger,
      ...(named ? { engine } : {}),
      signal: this.lifetime.signal,
      // Draining services too: their open connections must close when their container goes away.
      onEvent: (e) => {
        for (const u of this.everyUnit()) if (mine(u.activation) && u.activation.matches(e)) void u.activation.onContainerEvent(e);
        // A container that stopped is no longer one portwake started.
        if (e.kind === 'die' || e.kind === 'destroy') for (const a of this.orphans) if (mine(a) && a.matches(e)) this.orphans.delete(a);
      },
      onResync: (cause) => {
        for (const u of this.everyUnit()) if (mine(u.activation)) void u.activation.resync(cause);
      },
    }));
  }

  /** A service; `fds`: the systemd sockets per service (start-up only), `bind`: false builds it with no listener (a reload adds them). */
  private build(s: ServiceConfig, fds: Map<string, Array<{ target: ListenTarget; key: string }>>, bind = true): RunningService {
    const keys = new Map<string, string>();
    const listen: ListenTarget[] = [];
    for (const { target, key } of fds.get(s.name) ?? []) {
      listen.push(target);
      keys.set(target.text, key);
    }
    for (const l of s.listen) {
      if (l.kind === 'systemd' || !bind) continue;
      listen.push(l);
      keys.set(l.text, listenKey(l));
    }
    // A command service runs on no engine.
    const engine = s.command === undefined ? s.engine ?? DEFAULT_ENGINE : undefined;
    // An unknown engine never gets here: the config's rules reject it, and a reload's is rejected in reload.ts.
    const provider = this.providers.providerFor(s);
    const emit = (e: DaemonEvent): void => {
      // Once its run ends (paused is the same run), the container is no longer the one inherited over a reload.
      if (e.type === 'state' && isUp(e.from) && !isUp(e.to)) this.inherited.delete(unit.activation);
      if (e.type === 'state' && e.to === 'starting') this.watchEngine(provider, engine);
      this.emit(e);
    };
    const logger = (engine === undefined ? undefined : this.engineLoggers.get(engine)) ?? this.serviceLogger;
    const dependencies = dependenciesHook(s.name, { backend: (name) => this.units.get(name)?.activation, logger: this.o.logger, signal: this.lifetime.signal, clock: this.clock });
    const unit = createRunningService(s, listen, keys, { provider, probes: this.native === undefined ? networkProbes : nativeNetworkProbes, clock: this.clock, logger, emit, dependencies }, logger, this.native);
    this.providerOf.set(unit.activation, provider);
    return unit;
  }

  private everyUnit(): RunningService[] {
    return [...this.units.values(), ...this.draining.keys()];
  }

  /** The HTTP router of the config's `http:`, if any (start-up: with the systemd sockets passed for it). */
  private async startHttp(fds: ReadonlyArray<{ target: ListenTarget; key: string }>): Promise<void> {
    const config = this.config;
    if (config.http === undefined) return;
    this.http = await HttpRouting.start({ ...config, http: config.http }, fds, { logger: this.o.logger, clock: this.clock, services: () => this.units });
  }

  /** After a reload: the HTTP router follows the new config (started, updated or closed). */
  private async applyHttp(): Promise<void> {
    const config = this.config;
    if (config.http === undefined) {
      const http = this.http;
      this.http = undefined;
      await http?.close(this.o.graceMs);
    } else if (this.http === undefined) {
      await this.startHttp([]);
    } else {
      await this.http.apply({ ...config, http: config.http });
    }
  }

  /** Sockets passed by systemd, per service and for the HTTP router (the LISTEN_* variables are consumed once). */
  private systemdListeners(configured: readonly ServiceConfig[]): Map<string, Array<{ target: ListenTarget; key: string }>> {
    const out = new Map<string, Array<{ target: ListenTarget; key: string }>>();
    // The HTTP router claims its systemd: sockets as one more service would (HTTP_FD_OWNER).
    const httpListen = this.config.http?.listen.filter((l) => l.kind === 'systemd') ?? [];
    const services = httpListen.length === 0 ? configured : [...configured, { ...configured[0], name: HTTP_FD_OWNER, listen: httpListen } as ServiceConfig];
    // Always consumed: sockets passed to a config that claims none are a start-up error too.
    for (const c of takeListenFds(services, this.o.env, process.pid, createFdTypeLookup())) {
      const list = out.get(c.service) ?? [];
      const spec = services.find((s) => s.name === c.service)?.listen.find((l) => l.text === c.listen);
      list.push({ target: { kind: 'fd', fd: c.fd, text: `systemd:${c.name} (fd ${c.fd})` }, key: spec === undefined ? `systemd ${c.name}` : listenKey(spec) });
      out.set(c.service, list);
    }
    return out;
  }

  /**
   * STATUS= for systemctl: counts by state. Runs on every state change, on a cold start's critical
   * path (before the start request, and again before the held connections are forwarded), so it
   * reads each service's state only — building every service's full status() took 2–6 ms with
   * 1,000 services — and nothing at all without a notify socket.
   */
  private notifyStatus(): void {
    if (this.notifier === noopNotifier) return;
    this.notifier.status(formatStatusLine([...this.units.values()].map((u) => ({ state: u.activation.stateKind }))));
  }

  private emit(e: DaemonEvent): void {
    for (const fn of this.subscribers) {
      try {
        fn(e);
      } catch (err) {
        this.o.logger.warn({ err: describe(err) }, `event subscriber failed: ${describe(err)}, ignoring`);
      }
    }
    if (e.type === 'state') this.notifyStatus();
    if (e.type !== 'activated') this.exitIdle?.poke();
  }

  // ---- DaemonControl ----

  status(): ServiceStatus[] {
    return [...this.units.values()].map((u) => {
      const s = u.activation.status();
      const http = u.config.hosts === undefined ? undefined : this.http?.stats(u.config.name);
      return {
        ...s, engine: u.config.command !== undefined ? 'command' : u.config.engine ?? DEFAULT_ENGINE, listeners: inConfigOrder(u.frontend.listeners, u.config), heldConnections: u.frontend.held + (http?.held ?? 0), halfClosedConnections: u.frontend.halfClosed,
        ...(http === undefined ? {} : { http: { requests: http.requests, waitingPages: http.waitingPages, unavailable: http.unavailable, upgraded: http.upgraded } }),
      };
    });
  }

  async start(service: string): Promise<void> {
    await this.unit(service).activation.ensureReady(this.lifetime.signal);
  }

  /** Refused for a dependency while a service that depends on it is starting or up: stop that first. */
  async stop(service: string): Promise<void> {
    const unit = this.unit(service);
    const up = dependentsOf(service, [...this.units.values()].map((u) => u.config))
      .filter((name) => ['starting', 'ready'].includes(this.units.get(name)?.activation.stateKind ?? 'stopped'));
    if (up.length > 0) {
      throw new PortwakeError('USAGE', `service "${service}" is a dependency of ${up.map((n) => `"${n}"`).join(', ')}, which ${up.length === 1 ? 'is' : 'are'} up; stop ${up.length === 1 ? 'it' : 'them'} first ("portwake stop ${up[0] ?? ''}"), then "${service}" idles out by its own idleTimeout or can be stopped`);
    }
    await unit.activation.stop('control');
  }

  subscribe(fn: (event: DaemonEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** Logs a rejected reload (once, here) and rejects with its error. */
  reload(): Promise<ReloadResult> {
    const run = this.reloads.then(async () => {
      const result = await this.reloader.run();
      await this.applyHttp();
      return result;
    }).catch((err: unknown) => {
      // A config error lists every problem as FILE:LINE:COL: …, one per line: logged as it is.
      const why = err instanceof PortwakeError && err.code === 'CONFIG_INVALID' ? err.message : describe(err);
      this.o.logger.error({ err: describe(err) }, `reload rejected, the running config stays in force:\n${why}`);
      throw err;
    });
    this.reloads = run.catch(() => undefined);
    return run;
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
    this.heapRelease?.cancel();
    await this.control?.close();
    // A reload in flight finishes binding first, so that no listener it adds is left open.
    await this.reloads;
    await this.tlsRouter?.close();
    const units = [...this.units.values()];
    await Promise.all([...units.map((u) => u.frontend.close({ graceMs: this.o.graceMs })), ...this.draining.values(), this.http?.close(this.o.graceMs)]);
    for (const u of units) u.activation.dispose();
    this.lifetime.abort(new PortwakeError('ABORTED', 'daemon shut down'));
    if (this.o.stopOnExit) {
      const owners = units.map((u) => u.activation).filter((a) => a.ownsRunningContainer || (this.inherited.has(a) && isUp(a.stateKind)));
      await Promise.all([...owners, ...this.orphans].map((a) => a.stop('shutdown')));
    }
    // The processes of run: services go with portwake, --stop-on-exit or not.
    await this.providers.close();
    await this.notifier.flush();
    this.o.logger.info({}, 'stopped');
    this.resolveDone();
  }

  private unit(name: string): RunningService {
    const u = this.units.get(name);
    if (u === undefined) throw new PortwakeError('USAGE', `no service named "${name}" (known: ${[...this.units.keys()].join(', ') || 'none'})`);
    return u;
  }
}

/** The container's run goes on: ready, or paused (idleAction: pause) on either side of it. */
function isUp(state: ServiceStateKind): boolean {
  return state === 'ready' || state === 'pausing' || state === 'paused' || state === 'unpausing';
}
