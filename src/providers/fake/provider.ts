// A scripted in-memory provider for unit tests of timing and races: containers that take a set
// time to start and to "listen", counted start/stop calls, an events stream that can be broken.

import type { Clock } from '../../core/clock.ts';
import { abortedCall, ContainerNotFoundError, ContainerPausedError, DeadlineError, ProviderError, ProviderUnreachableError } from '../../core/errors.ts';
import type { ContainerEvent, ContainerInfo, Endpoint, HealthStatus, Provider } from '../../core/provider.ts';
import type { ProbeOutcome, Probes } from '../../core/readiness.ts';
import { EventHub } from '../../core/event-hub.ts';

export interface FakeContainerOptions {
  name: string;
  exposedPorts?: number[];
  /** Time the engine takes to start it. */
  startMs?: number;
  /** Time after start until the app accepts connections. */
  listenMs?: number;
  /** The app exits this long after start (crash during start), with exit code 1. */
  crashAfterMs?: number;
  hasHealthcheck?: boolean;
  running?: boolean;
  /** The engine's restart policy (default "no"). */
  restartPolicy?: string;
  /** The app ignores SIGTERM: stop() waits the grace period, then "kills" it (exit code 137). */
  ignoreSigterm?: boolean;
}

interface FakeContainer {
  id: string;
  name: string;
  ip: string;
  exposedPorts: number[];
  startMs: number;
  listenMs: number;
  crashAfterMs: number | undefined;
  hasHealthcheck: boolean;
  ignoreSigterm: boolean;
  /** A start in flight. */
  starting: Promise<void> | undefined;
  running: boolean;
  /** Frozen by pause (running stays true, as the engine reports it). */
  paused: boolean;
  listeningAt: number | undefined;
  health: HealthStatus;
  exitCode: number | undefined;
  generation: number;
  startedAt: number | undefined;
  restartPolicy: string;
}


export class FakeProvider implements Provider {
  readonly endpoint = 'fake://';
  readonly containers = new Map<string, FakeContainer>();
  startCalls = 0;
  stopCalls = 0;
  pauseCalls = 0;
  unpauseCalls = 0;
  /** Time the engine takes to pause and to unpause a container. */
  pauseMs = 0;
  inspectCalls = 0;
  restartPolicyCalls = 0;
  /** When set, every call rejects as an unreachable engine. */
  unreachable = false;
  /**
   * When set, every call (but events) hangs as on a hung engine: it takes the request and never
   * answers, until the caller's signal aborts (a deadline: EngineTimeoutError).
   */
  wedged = false;
  /** Calls that were hanging on the wedged engine (counted as they begin). */
  wedgedCalls = 0;
  private readonly hub = new EventHub<ContainerEvent>();
  private nextId = 1;

  constructor(private readonly clock: Clock) {}

  add(o: FakeContainerOptions): FakeContainer {
    const n = this.nextId++;
    const c: FakeContainer = {
      id: `fake${String(n).padStart(12, '0')}`,
      name: o.name,
      ip: `10.99.0.${n}`,
      exposedPorts: o.exposedPorts ?? [80],
      startMs: o.startMs ?? 0,
      listenMs: o.listenMs ?? 0,
      crashAfterMs: o.crashAfterMs,
      hasHealthcheck: o.hasHealthcheck ?? false,
      ignoreSigterm: o.ignoreSigterm ?? false,
      starting: undefined,
      running: false,
      paused: false,
      listeningAt: undefined,
      health: o.hasHealthcheck === true ? 'starting' : 'none',
      exitCode: undefined,
      generation: 0,
      startedAt: undefined,
      restartPolicy: o.restartPolicy ?? 'no',
    };
    this.containers.set(o.name, c);
    if (o.running === true) this.run(c);
    return c;
  }

  async inspect(container: string, signal?: AbortSignal): Promise<ContainerInfo> {
    signal?.throwIfAborted();
    await this.hang('docker inspect', signal);
    this.inspectCalls++;
    const c = this.find(container);
    return {
      id: c.id,
      name: c.name,
      status: c.paused ? 'paused' : c.running ? 'running' : c.exitCode === undefined ? 'created' : 'exited',
      running: c.running,
      health: c.running ? c.health : 'none',
      exitCode: c.exitCode,
      exposedPorts: [...c.exposedPorts],
      published: [],
      networks: c.running ? [{ name: 'bridge', ipAddress: c.ip, globalIPv6Address: '' }] : [],
      networkMode: 'bridge',
      hasHealthcheck: c.hasHealthcheck,
      startedAt: c.startedAt,
      restartPolicy: c.restartPolicy,
    };
  }

  /** Sets the restart policy to "no"; counted in restartPolicyCalls. */
  async disableRestart(container: string, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.hang('docker update', signal);
    const c = this.find(container);
    this.restartPolicyCalls++;
    c.restartPolicy = 'no';
  }

  async start(container: string, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    await this.hang('docker start', signal);
    const c = this.find(container);
    this.startCalls++;
    if (c.paused) throw new ContainerPausedError(container);
    if (c.running) return false;
    // As an engine does: a second start while one is in flight waits for it, then finds it running.
    if (c.starting !== undefined) return c.starting.then(() => false);
    const starting = this.wait(c.startMs, signal).then(() => { this.run(c); });
    c.starting = starting.finally(() => { c.starting = undefined; });
    c.starting.catch(() => undefined); // the caller sees the failure through `starting`
    await starting;
    return true;
  }

  async stop(container: string, graceSeconds: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.hang('docker stop', signal);
    const c = this.find(container);
    this.stopCalls++;
    if (!c.running) return;
    if (!c.ignoreSigterm) {
      this.exit(c, 0, 'stop');
      return;
    }
    const gen = c.generation;
    await new Promise<void>((resolve) => this.clock.setTimer(graceSeconds * 1000, resolve));
    if (c.running && c.generation === gen) this.exit(c, 137, 'stop');
  }

  async pause(container: string, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    await this.hang('docker pause', signal);
    const c = this.find(container);
    this.pauseCalls++;
    if (!c.running) throw new ProviderError(`docker pause of container "${container}" failed: Container ${c.id} is not running (HTTP 409)`);
    if (c.paused) return false;
    await this.wait(this.pauseMs, signal, 'docker pause');
    if (!c.running) throw new ProviderError(`docker pause of container "${container}" failed: Container ${c.id} is not running (HTTP 409)`);
    this.setPaused(c, true);
    return true;
  }

  async unpause(container: string, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    await this.hang('docker unpause', signal);
    const c = this.find(container);
    this.unpauseCalls++;
    if (!c.paused) return false;
    await this.wait(this.pauseMs, signal, 'docker unpause');
    if (!c.paused) return false;
    this.setPaused(c, false);
    return true;
  }

  /** Simulates `docker pause` / `docker unpause` by someone else. */
  pauseOutside(container: string, paused = true): void {
    const c = this.find(container);
    if (c.running && c.paused !== paused) this.setPaused(c, paused);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    await this.hang('docker ping', signal);
    if (this.unreachable) throw new ProviderUnreachableError(this.endpoint);
  }

  /** Simulates `docker stop` by someone else, or a crash. */
  kill(container: string, exitCode = 137): void {
    const c = this.find(container);
    if (c.running) this.exit(c, exitCode, 'kill');
  }

  /** Breaks every open events stream, as an engine restart would. */
  breakEvents(): void {
    this.hub.fail(new ProviderUnreachableError(this.endpoint, { cause: new Error('stream ended') }));
  }

  get subscriberCount(): number {
    return this.hub.size;
  }

  async *events(signal: AbortSignal): AsyncIterable<ContainerEvent> {
    if (signal.aborted) return;
    if (this.unreachable) throw new ProviderUnreachableError(this.endpoint);
    yield* this.hub.stream(signal);
  }

  /** Probes answering from the fake containers' state: ready once the app "listens". */
  probes(): Probes {
    const check = async (target: Endpoint): Promise<ProbeOutcome> => {
      const c = [...this.containers.values()].find((x) => target.kind === 'tcp' && x.ip === target.host);
      if (c === undefined || !c.running) return { ok: false, detail: 'connection refused (ECONNREFUSED)' };
      if (c.listeningAt === undefined || this.clock.now() < c.listeningAt) return { ok: false, detail: 'connection refused (ECONNREFUSED)' };
      return { ok: true };
    };
    return { tcp: (t) => check(t), http: (t) => check(t) };
  }

  private run(c: FakeContainer): void {
    c.running = true;
    c.startedAt = this.clock.now();
    c.exitCode = undefined;
    c.listeningAt = this.clock.now() + c.listenMs;
    const gen = ++c.generation;
    this.emit('start', c);
    if (c.hasHealthcheck) {
      c.health = 'starting';
      this.clock.setTimer(c.listenMs, () => {
        if (c.generation !== gen || !c.running) return;
        c.health = 'healthy';
        this.emit('health', c);
      });
    }
    if (c.crashAfterMs !== undefined) {
      this.clock.setTimer(c.crashAfterMs, () => {
        if (c.generation === gen && c.running) this.exit(c, 1, 'crash');
      });
    }
  }

  private setPaused(c: FakeContainer, paused: boolean): void {
    c.paused = paused;
    this.emit(paused ? 'pause' : 'unpause', c);
  }

  private exit(c: FakeContainer, exitCode: number, how: 'stop' | 'kill' | 'crash'): void {
    // The engine stops a paused container too (Docker 28: SIGTERM, then it thaws it to deliver it).
    c.paused = false;
    c.running = false;
    c.exitCode = exitCode;
    c.listeningAt = undefined;
    c.generation++;
    this.emit('die', c, exitCode);
    if (how === 'stop') this.emit('stop', c);
  }

  private emit(kind: ContainerEvent['kind'], c: FakeContainer, exitCode?: number): void {
    const e: ContainerEvent = { kind, id: c.id, name: c.name, time: this.clock.now() };
    if (kind === 'health') e.health = c.health;
    if (exitCode !== undefined) e.exitCode = exitCode;
    this.hub.emit(e);
  }

  private find(ref: string): FakeContainer {
    if (this.unreachable) throw new ProviderUnreachableError(this.endpoint, { cause: new Error('connect ECONNREFUSED') });
    const c = this.containers.get(ref) ?? [...this.containers.values()].find((x) => x.id === ref);
    if (c === undefined) throw new ContainerNotFoundError(ref);
    return c;
  }

  /** On a wedged engine: never settles, unless the signal aborts. */
  private hang(operation: string, signal: AbortSignal | undefined): Promise<void> {
    if (!this.wedged) return Promise.resolve();
    this.wedgedCalls++;
    return new Promise((_resolve, reject) => {
      signal?.addEventListener('abort', () => { const err = abortedCall(signal, this.endpoint, operation); reject(err instanceof Error ? err : new Error(String(err))); }, { once: true });
    });
  }

  private wait(ms: number, signal?: AbortSignal, operation = 'docker start'): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const t = this.clock.setTimer(ms, resolve);
      signal?.addEventListener('abort', () => { t.cancel(); reject(signal.reason instanceof DeadlineError ? abortedCall(signal, this.endpoint, operation) as Error : new ProviderError(`${operation} cancelled`, { cause: signal.reason })); }, { once: true });
    });
  }
}

FakeProvider satisfies new (clock: Clock) => Provider;
