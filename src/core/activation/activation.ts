// Per-service activation: stopped → starting → ready → stopping, a single-flight start that every
// waiting connection joins, connection leases that keep the service awake, and the idle stop — or,
// with idleAction: pause, ready → pausing → paused → unpausing → ready (and paused → stopping after
// stopAfter).

import { raceAbort } from '../abort.ts';
import type { Backend, Lease, RefusalReason, WakeRequest } from '../backend.ts';
import { deadline } from '../deadline.ts';
import { AbortedError, ContainerExitedError, EngineTimeoutError, PortwakeError, StartLimitedError, describe, forService, formatMs } from '../errors.ts';
import { IdleTimer, TrafficIdle } from '../idle.ts';
import type { Logger } from '../logger.ts';
import { canPause, type ContainerEvent, type Endpoint } from '../provider.ts';
import { RateLimitedReporter } from '../rate-limit.ts';
import type { ServiceStateKind, ServiceStatus, StartTimings } from '../status.ts';
import { formatEndpoint } from '../upstream.ts';
import { wakeVerdict } from '../wake.ts';
import { bringUp } from './bring-up.ts';
import { groupOf, stopGroup } from './group.ts';
import { RestartPolicyManager } from './restart-policy.ts';
import { ServiceLease } from './lease.ts';
import { START_LIMIT_DEFAULTS, StartLimit } from './start-limit.ts';
import type { ActivationDeps, ActivationSpec, Failed, Starting, State, StopReason, Unpausing } from './types.ts';

export type { ActivationDeps, ActivationSpec } from './types.ts';
export { FIRST_BACKOFF_MS, START_LIMIT_DEFAULTS } from './start-limit.ts';

/** How much longer than its grace period a stop may take (SIGKILL, the exit) before the engine counts as hung. */
export const STOP_MARGIN_MS = 10_000;
/** How long an inspection outside a start (resync) may take. */
const QUERY_TIMEOUT_MS = 10_000;
const REFUSAL_LOG_INTERVAL_MS = 10_000;
/** How long a pause request may take (the engine freezes a cgroup: milliseconds when it is well). */
export const PAUSE_TIMEOUT_MS = 30_000;

export class Activation implements Backend {
  readonly name: string;
  private state: State = { kind: 'stopped' };
  private readonly leases = new Set<ServiceLease>();
  /** Waiters of drain(), called when the last lease is released. */
  private readonly drained: (() => void)[] = [];
  private held = 0;
  private closedBytesIn = 0;
  private closedBytesOut = 0;
  private lastActivity: number | undefined;
  private lastStart: StartTimings | undefined;
  private containerId: string | undefined;
  /** Ids of a group's other containers, as last inspected (for matches()). */
  private memberIds = new Set<string>();
  /** Lets go of the dependencies (dependsOn) this service holds while starting or up; called once it has stopped. */
  private releaseDependencies: (() => void) | undefined;
  private readonly restartPolicy: RestartPolicyManager;
  /** When the run portwake uses started (engine clock), once confirmed by inspect. */
  private runStartedAt: number | undefined;
  private startedByUs = false;
  private readonly startLimit = new StartLimit();
  /** The single flight of resync(): the inspection running, and whether another must follow it. */
  private resyncing: Promise<void> | undefined;
  private resyncAgain: Promise<void> | undefined;
  private readonly idle: IdleTimer;
  /** idleAction: pause — armed on entering 'paused', stops the container after stopAfter. */
  private readonly stopAfter: IdleTimer;
  /** Set for `idleOn: traffic` with an idle timeout; the IdleTimer then stays unused. */
  private traffic: TrafficIdle | undefined;
  private readonly refusals: RateLimitedReporter;
  private readonly log: Logger;
  /** Listener descriptions, filled in by the daemon for status. */
  listeners: string[] = [];

  constructor(
    /** Replaced by update() only. */
    public spec: ActivationSpec,
    private readonly deps: ActivationDeps,
  ) {
    this.name = spec.name;
    this.log = deps.logger.child({ service: spec.name, container: spec.container });
    this.idle = new IdleTimer(deps.clock, spec.idleTimeoutMs, () => this.onIdle());
    this.stopAfter = new IdleTimer(deps.clock, spec.stopAfterMs, () => this.onStopAfter());
    this.warnCannotPause(spec);
    this.traffic = this.trafficIdle(spec);
    this.restartPolicy = new RestartPolicyManager(deps.provider, this.log, spec.name);
    this.refusals = new RateLimitedReporter(deps.clock, REFUSAL_LOG_INTERVAL_MS, (reason, suppressed) => {
      this.log.warn({ reason, suppressed }, `service "${this.name}": refused a connection (${reason})${suppressed > 0 ? `; ${suppressed} more since the last report` : ''}`);
    });
  }

  get stateKind(): ServiceStateKind {
    return this.state.kind;
  }

  get openConnections(): number {
    return this.leases.size;
  }

  // ---- Backend (used by the proxy frontend) ----

  tryAcquire(): Lease | undefined {
    return this.state.kind === 'ready' ? this.lease(this.state) : undefined;
  }

  async acquire(signal: AbortSignal): Promise<Lease> {
    await this.untilReady(signal);
    // untilReady returns only in the ready state, in the same tick.
    const state = this.state;
    if (state.kind !== 'ready') throw new AbortedError(`service "${this.name}": acquire`);
    return this.lease(state);
  }

  /** Starts the service if it is stopped or failed, unpauses it if paused: what a waiter (acquire, untilReady) needs first. */
  prepare(): void {
    const s = this.state;
    if (s.kind === 'paused') this.beginUnpause(s);
    else if (s.kind === 'stopped' || (s.kind === 'failed' && !this.backingOff(s))) this.beginStart();
  }

  /** Up or starting: all traffic flows; otherwise the wake filter (`wake:`) decides. */
  mayWake(request: WakeRequest): boolean {
    const kind = this.state.kind;
    if (kind === 'ready' || kind === 'starting') return true;
    const why = wakeVerdict(this.spec.wake, request);
    if (why === undefined) return true;
    this.log.debug({ source: request.source, why }, `service "${this.name}": not starting it for a request from ${request.source}: ${why}`);
    return false;
  }

  setHeld(delta: number): void {
    this.held += delta;
  }

  refused(reason: RefusalReason): void {
    const s = this.state;
    if (reason === 'wake_refused') {
      // Expected traffic (monitors, crawlers): counted, and logged at debug by mayWake.
    } else if (reason === 'backing_off') {
      // Counted, and reported once when the back-off ends (not one line per connection).
      if (s.kind === 'failed' && s.backoff !== undefined) s.backoff.refused++;
    } else {
      this.refusals.hit(reason);
    }
    this.deps.emit({ type: 'refused', service: this.name, reason, at: this.deps.clock.now() });
  }

  // ---- control ----

  /** Starts the service if needed and waits until it is ready (POST /services/NAME/start); clears a back-off. */
  async ensureReady(signal: AbortSignal): Promise<void> {
    this.clearBackoff('a manual start');
    await this.untilReady(signal);
    this.armIdle();
  }

  /**
   * Drains and stops (POST /services/NAME/stop): new connections are held; open ones get up to
   * stopTimeout to finish before the container is stopped. Resolves once stopped.
   */
  async stop(reason: 'control' | 'shutdown' | 'removed'): Promise<void> {
    for (;;) {
      const s = this.state;
      if (s.kind === 'stopping') return s.done;
      if (s.kind === 'starting') {
        // The stop wins: the start gives up waiting and, once the engine has answered the start
        // request, enters 'stopping' itself; held connections are closed (the start fails for them).
        s.stop ??= reason;
        s.abort.abort(new AbortedError(`service "${this.name}": start (stopped by ${reason})`));
        await s.ready.catch(() => undefined);
        continue;
      }
      if (s.kind === 'unpausing') {
        // As for a start: the unpause is answered first, then the container stopped.
        s.stop ??= reason;
        await s.ready.catch(() => undefined);
        continue;
      }
      if (s.kind === 'pausing') {
        await s.done;
        continue;
      }
      // The engine stops a paused container as it is (SIGTERM, thawed to deliver it: checked on Docker 28).
      if (s.kind !== 'ready' && s.kind !== 'paused') return;
      return this.beginStop(reason, true);
    }
  }

  /**
   * A reload changed the timeouts or the readiness check, not the container or its upstream:
   * applied in place. Open connections, a start in flight and the running container are kept; the
   * next start uses the new readiness check; an armed idle timer keeps its start (retime()).
   */
  update(spec: ActivationSpec): void {
    const before = this.spec;
    this.spec = spec;
    this.warnCannotPause(spec);
    this.stopAfter.retime(spec.stopAfterMs);
    // Paused, and idle containers are now stopped: it has been idle, so it is stopped now.
    if (this.state.kind === 'paused' && !this.pausesWhenIdle()) void this.beginStop('idle', false);
    if ((spec.idleOn ?? 'connections') !== (before.idleOn ?? 'connections') || (this.traffic !== undefined && spec.idleTimeoutMs !== before.idleTimeoutMs)) {
      // A new idle rule (or a traffic rule's new timeout): its quiet period starts now.
      this.disarmIdle();
      this.traffic = this.trafficIdle(spec);
      if (this.traffic === undefined) this.idle.retime(spec.idleTimeoutMs);
      if (this.state.kind === 'ready') this.armIdle();
      return;
    }
    this.idle.retime(spec.idleTimeoutMs);
    if (this.state.kind === 'ready' && this.leases.size === 0 && this.idle.deadline === undefined) this.idle.arm();
  }

  private trafficIdle(spec: ActivationSpec): TrafficIdle | undefined {
    return spec.idleOn === 'traffic' && spec.idleTimeoutMs !== undefined
      ? new TrafficIdle(this.deps.clock, spec.idleTimeoutMs, () => this.bytesMoved(), () => this.onIdle())
      : undefined;
  }

  /**
   * Whether portwake itself started the running container (for --stop-on-exit). A start in flight
   * counts unless the engine answered that the container was running already.
   */
  get ownsRunningContainer(): boolean {
    const s = this.state;
    const up = s.kind === 'ready' || s.kind === 'pausing' || s.kind === 'paused' || s.kind === 'unpausing';
    return (this.startedByUs && up) || (s.kind === 'starting' && s.started !== false);
  }

  /** Ends a back-off (a manual start, a config reload): the next connection starts the container. */
  clearBackoff(why: string): void {
    this.startLimit.clear();
    const s = this.state;
    if (s.kind !== 'failed' || s.backoff === undefined) return;
    this.log.info({ refused: s.backoff.refused }, `service "${this.name}": back-off cleared by ${why}${s.backoff.refused > 0 ? `; ${s.backoff.refused} connection(s) were refused during it` : ''}`);
    this.state = { ...s, backoff: undefined };
  }

  /** Cancels timers and a start in flight; connections are the frontend's to close. */
  dispose(): void {
    this.disarmIdle();
    this.stopAfter.disarm();
    if (this.state.kind === 'starting') this.state.abort.abort(new AbortedError(`service "${this.name}": start (shutting down)`));
  }

  // ---- events from the engine ----

  /** Whether an engine event concerns this service's container. */
  matches(event: ContainerEvent): boolean {
    if (event.id === this.containerId || event.name === this.spec.container || event.id === this.spec.container) return true;
    const members = this.spec.members;
    return members !== undefined && (this.memberIds.has(event.id) || members.includes(event.name) || members.includes(event.id));
  }

  /**
   * A container event for this service's container; confirms with inspect before acting. An exit
   * from before the current run started (events lag: the previous run's die can arrive while the
   * next start is in flight) is ignored; so is one during a start not yet confirmed running — the
   * start's own inspections notice a real exit.
   */
  async onContainerEvent(event: ContainerEvent): Promise<void> {
    if (event.kind === 'pause' || event.kind === 'unpause') {
      // Someone else's pause or unpause (portwake's own agree with the state, or land while its
      // request is in flight, whose answer decides): adopted after an inspect.
      const k = this.state.kind;
      if ((k === 'ready' && event.kind === 'pause') || (k === 'paused' && event.kind === 'unpause')) await this.resync(event.kind);
      return;
    }
    if (event.kind === 'destroy') {
      await this.resync(event.kind);
      return;
    }
    if (event.kind !== 'die' && event.kind !== 'stop') return;
    if (this.runStartedAt === undefined || event.time < this.runStartedAt) return;
    await this.resync(event.kind);
  }

  /**
   * Re-reads the container's state (after an event, or after the events stream reconnected) and
   * adopts it: a container that is no longer running closes its connections and returns to stopped.
   */
  async resync(cause: string): Promise<void> {
    // One inspection in flight per service: callers during it share the one that follows it (an
    // inspection already under way may have been answered before what they saw happened).
    if (this.resyncing === undefined) {
      this.resyncing = this.resyncOnce(cause).finally(() => {
        this.resyncing = undefined;
      });
      return this.resyncing;
    }
    this.resyncAgain ??= this.resyncing.then(() => {
      this.resyncAgain = undefined;
      return this.resync(cause);
    });
    return this.resyncAgain;
  }

  private async resyncOnce(cause: string): Promise<void> {
    const s = this.state;
    if (s.kind !== 'ready' && s.kind !== 'starting' && s.kind !== 'paused') return;
    // A start not yet confirmed running notices a real exit through its own inspections: an
    // inspection now could land before the engine has even run the start request.
    if (s.kind === 'starting' && this.runStartedAt === undefined) return;
    let running: boolean;
    let paused = false;
    let exitCode: number | undefined;
    const limit = deadline(this.deps.clock, QUERY_TIMEOUT_MS);
    let down = this.spec.container;
    try {
      const info = await this.deps.provider.inspect(this.spec.container, limit.signal);
      running = info.running && (this.containerId === undefined || info.id === this.containerId);
      paused = info.status === 'paused';
      exitCode = info.exitCode;
      // A group is up only while every member is: one that exited takes it down.
      for (const m of running ? this.spec.members ?? [] : []) {
        const member = await this.deps.provider.inspect(m, limit.signal).catch((err: unknown) => {
          if (err instanceof PortwakeError && err.code === 'CONTAINER_NOT_FOUND') return undefined;
          throw err;
        });
        if (member?.running === true) continue;
        running = false;
        exitCode = member?.exitCode;
        down = m;
        break;
      }
    } catch (err) {
      if (!(err instanceof PortwakeError && err.code === 'CONTAINER_NOT_FOUND')) {
        this.log.warn({ err: describe(err) }, `service "${this.name}": cannot re-inspect container after ${cause}: ${describe(err)}, ignoring`);
        return;
      }
      running = false;
      exitCode = undefined;
    } finally {
      limit.cancel();
    }
    if (this.state !== s) return;
    if (running) {
      if (s.kind === 'ready' && paused) this.pausedOutside(s, cause);
      else if (s.kind === 'paused' && !paused) this.unpausedOutside(s, cause);
      return;
    }
    if (s.kind === 'starting') {
      s.abort.abort(new ContainerExitedError(down, exitCode));
      return;
    }
    const open = this.leases.size;
    if (this.spec.members !== undefined && this.spec.members.length > 0) {
      // One container of a group gone is the group down: the rest are stopped, and the next
      // connection starts them all again.
      this.log.warn({ cause, open, down }, `service "${this.name}": container "${down}" of the group stopped outside portwake (${cause}); closing ${open} open connection(s) and stopping the rest of the group (${groupOf(this.spec).filter((c) => c !== down).join(', ')})`);
      this.revokeAll();
      void this.beginStop('group member exited', false);
      return;
    }
    this.log.warn({ cause, open }, `service "${this.name}": container "${this.spec.container}" stopped outside portwake (${cause}); closing ${open} open connection(s)`);
    this.disarmIdle();
    this.stopAfter.disarm();
    this.startedByUs = false;
    this.setState({ kind: 'stopped' });
    this.revokeAll();
  }

  /** Someone else paused the container: new connections unpause it; stopAfter counts from now. */
  private pausedOutside(s: Extract<State, { kind: 'ready' }>, cause: string): void {
    this.log.info({ cause }, `service "${this.name}": container "${this.spec.container}" was paused outside portwake; the next connection unpauses it`);
    this.disarmIdle();
    this.setState({ kind: 'paused', targets: s.targets, since: this.deps.clock.now() });
    this.stopAfter.arm();
  }

  /** Someone else unpaused the container: it is ready again (as it was when paused), idle from now. */
  private unpausedOutside(s: Extract<State, { kind: 'paused' }>, cause: string): void {
    this.log.info({ cause }, `service "${this.name}": container "${this.spec.container}" was unpaused outside portwake; ready`);
    this.stopAfter.disarm();
    this.setState({ kind: 'ready', targets: s.targets });
    this.armIdle();
  }

  /** Closes every open connection: their upstream is gone. */
  private revokeAll(): void {
    for (const l of [...this.leases]) l.revoke();
  }

  async upstreamFailed(upstream: Endpoint, error: Error): Promise<void> {
    const s = this.state;
    if (s.kind !== 'ready' || formatEndpoint(s.targets.data) !== formatEndpoint(upstream)) return;
    this.log.debug({ err: describe(error) }, `service "${this.name}": upstream ${formatEndpoint(upstream)} refused a connection (${describe(error)}); re-inspecting the container`);
    await this.resync('upstream unreachable');
  }

  // ---- status ----

  status(): ServiceStatus {
    let bytesIn = this.closedBytesIn;
    let bytesOut = this.closedBytesOut;
    for (const l of this.leases) {
      bytesIn += l.bytesIn;
      bytesOut += l.bytesOut;
    }
    const failed = this.state.kind === 'failed' ? this.state.error : undefined;
    const backoff = this.state.kind === 'failed' && this.backingOff(this.state) ? this.state.backoff : undefined;
    return {
      name: this.name,
      container: this.spec.container,
      state: this.state.kind,
      lastError: failed?.message,
      lastErrorCode: failed?.code,
      listeners: this.listeners,
      openConnections: this.leases.size,
      heldConnections: this.held,
      bytesIn,
      bytesOut,
      lastActivity: this.lastActivity,
      lastStart: this.lastStart,
      idleDeadline: this.state.kind === 'paused' ? this.stopAfter.deadline : this.traffic === undefined ? this.idle.deadline : this.traffic.deadline,
      idleOn: this.spec.idleOn ?? 'connections',
      idleAction: this.pausesWhenIdle() ? 'pause' : 'stop',
      ...(backoff === undefined ? {} : { backoffUntil: backoff.until, backoffRefused: backoff.refused }),
    };
  }

  // ---- internals ----

  /** Loops through the states until ready (joining a start or stop in flight), or throws. */
  private async untilReady(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const s = this.state;
      switch (s.kind) {
        case 'ready':
          return;
        case 'starting':
          await raceAbort(s.ready, signal);
          break;
        case 'stopping':
        case 'pausing':
          await raceAbort(s.done, signal);
          break;
        case 'unpausing':
          await raceAbort(s.ready, signal);
          break;
        case 'paused':
          this.prepare();
          break;
        case 'failed':
          if (this.backingOff(s)) throw forService(this.name, new StartLimitedError(this.spec.container, s.backoff.until, s.error));
          this.prepare();
          break;
        case 'stopped':
          this.prepare();
          break;
      }
    }
  }

  private lease(state: Extract<State, { kind: 'ready' }>): Lease {
    const l = new ServiceLease(state.targets.data, this);
    this.leases.add(l);
    this.lastActivity = this.deps.clock.now();
    if (this.traffic !== undefined) this.traffic.touch();
    else this.idle.disarm();
    return l;
  }

  /** For ServiceLease.release() only (a method rather than a closure per lease). */
  releaseLease(l: ServiceLease): void {
    if (!this.leases.delete(l)) return;
    this.closedBytesIn += l.bytesIn;
    this.closedBytesOut += l.bytesOut;
    this.lastActivity = this.deps.clock.now();
    this.traffic?.touch();
    if (this.leases.size > 0) return;
    if (this.state.kind === 'ready' && this.traffic === undefined) this.idle.arm();
    for (const finish of this.drained.splice(0)) finish();
  }

  private beginStart(): void {
    const s = this.state;
    if (s.kind === 'failed' && s.backoff !== undefined) {
      this.log.info({ refused: s.backoff.refused }, `service "${this.name}": back-off over${s.backoff.refused > 0 ? ` (${s.backoff.refused} connection(s) refused during it)` : ''}; trying a start`);
    }
    const starting: Starting = { kind: 'starting', ready: Promise.resolve(), abort: new AbortController(), stop: undefined, started: undefined };
    // Deferred by a microtask so that the state is 'starting' before the start runs.
    starting.ready = Promise.resolve().then(() => this.runStart(starting));
    starting.ready.catch(() => undefined); // waiters observe the rejection; nobody waiting is fine too
    this.setState(starting);
  }

  private async runStart(st: Starting): Promise<void> {
    const { clock } = this.deps;
    const container = this.spec.container;
    const t0 = clock.now();
    this.runStartedAt = undefined;
    // The whole start, engine calls included, is bounded by startTimeout (a hung engine answers nothing).
    const limit = deadline(clock, this.spec.startTimeoutMs);
    try {
      const needs = this.spec.dependsOn;
      if (this.deps.dependencies !== undefined && needs !== undefined && needs.length > 0) {
        // dependsOn: every dependency ready first, within this service's own startTimeout.
        const release = await this.deps.dependencies(needs, AbortSignal.any([st.abort.signal, limit.signal]));
        this.letGoOfDependencies();
        this.releaseDependencies = release;
        st.abort.signal.throwIfAborted();
      }
      const { targets, t1, started } = await bringUp(this.spec, this.deps, st, limit, t0, {
        inspected: (info) => {
          this.containerId = info.id;
          if (this.spec.restartPolicy === 'manage') void this.restartPolicy.manage(info);
        },
        members: (infos) => {
          this.memberIds = new Set(infos.map((i) => i.id));
          if (this.spec.restartPolicy === 'manage') for (const i of infos) void this.restartPolicy.manage(i);
        },
        running: (info) => {
          this.runStartedAt = info.startedAt;
        },
      });
      st.abort.signal.throwIfAborted();
      const t2 = clock.now();
      const startedByUs = started;
      this.startedByUs = startedByUs;
      this.startLimit.clear();
      this.lastStart = { at: t0, containerStartMs: t1 - t0, readinessMs: t2 - t1, startedByUs };
      this.setState({ kind: 'ready', targets });
      this.armIdle();
      // The log line and the event wait for the next turn: the held connections go on first (they
      // resume when this returns), so formatting and writing them is not on the first byte's path.
      // (setImmediate, not the injected clock: this orders work within the event loop, it waits for
      // no time; on a manual clock the line would wait for a test to advance time.)
      const timings = this.lastStart;
      setImmediate(() => {
        this.log.info(
          { startMs: t1 - t0, readinessMs: t2 - t1, upstream: formatEndpoint(targets.data), startedByUs },
          `service "${this.name}": ${startedByUs ? 'started' : 'found running'} container "${container}", ready in ${t2 - t0}ms ` +
            `(container start ${t1 - t0}ms, readiness ${t2 - t1}ms) → ${formatEndpoint(targets.data)}`,
        );
        this.deps.emit({ type: 'activated', service: this.name, timings, firstWaitMs: t2 - t0, at: t2 });
      });
    } catch (err) {
      limit.cancel();
      throw this.startFailed(st, st.abort.signal.aborted ? st.abort.signal.reason : err);
    }
  }

  /**
   * After a failed start: a stop asked for meanwhile stops the container (it wins); otherwise the
   * failure is logged (once, here), counted against the start limit, and a container this start
   * ran is stopped again. Returns the error for the waiters.
   */
  private startFailed(st: Starting, cause: unknown): PortwakeError {
    const { clock } = this.deps;
    const error = forService(this.name, cause);
    // An answered start ran the container; an unanswered one (the engine hung) may yet run it.
    const unanswered = st.started === undefined && cause instanceof EngineTimeoutError;
    const ours = st.started === true || unanswered;
    if (st.stop !== undefined) {
      this.log.info({ reason: st.stop }, `service "${this.name}": start abandoned (${st.stop} stop); stopping container "${this.spec.container}"`);
      void this.beginStop(st.stop, false);
      return error;
    }
    if (this.state !== st) return error;
    // Cancelled by dispose() (shutdown without --stop-on-exit): the container is left as it is.
    const disposed = cause instanceof AbortedError;
    const backoff = disposed ? undefined : this.startLimit.countFailure(this.spec, clock.now());
    const failed: Failed = { kind: 'failed', error, backoff: backoff === undefined ? undefined : { until: backoff, refused: 0 } };
    this.log.error({ code: error.code }, error.message);
    if (backoff !== undefined) {
      const burst = this.spec.startLimitBurst ?? START_LIMIT_DEFAULTS.startLimitBurst;
      this.log.warn(
        { until: new Date(backoff).toISOString(), backoffMs: backoff - clock.now() },
        `service "${this.name}": ${this.startLimit.backoffs > 1 ? 'the retry after a back-off failed' : `${burst} starts failed within ${formatMs(this.spec.startLimitIntervalMs ?? START_LIMIT_DEFAULTS.startLimitIntervalMs)}`}; ` +
          `refusing connections without a start until ${new Date(backoff).toISOString()} (back-off ${formatMs(backoff - clock.now())})`,
      );
    }
    this.deps.emit({ type: 'failed', service: this.name, code: error.code, message: error.message, at: clock.now() });
    if (disposed || !ours) {
      this.setState(failed);
    } else if (unanswered) {
      // The engine is not answering: new connections need not wait for this stop.
      this.setState(failed);
      this.stopAbandoned();
    } else {
      void this.beginStop('start failed', false, failed);
    }
    return error;
  }


  private backingOff(s: Failed): s is Failed & { backoff: { until: number; refused: number } } {
    return s.backoff !== undefined && this.deps.clock.now() < s.backoff.until;
  }

  /** A container whose start the engine never answered is stopped in the background, best effort. */
  private stopAbandoned(): void {
    const graceS = Math.ceil(this.spec.stopTimeoutMs / 1000);
    const limit = deadline(this.deps.clock, this.spec.stopTimeoutMs + STOP_MARGIN_MS);
    stopGroup(this.deps.provider, this.spec, graceS, limit.signal).then(
      () => limit.cancel(),
      (err: unknown) => {
        limit.cancel();
        this.log.warn({ err: describe(err) }, `service "${this.name}": stopping container "${this.spec.container}" after its unanswered start failed: ${describe(err)}; it may be running`);
      },
    );
  }

  private onIdle(): void {
    if (this.traffic !== undefined) {
      this.onTrafficIdle(this.traffic);
      return;
    }
    const s = this.state;
    if (s.kind !== 'ready' || this.leases.size > 0 || this.held > 0) return;
    const pause = this.pausesWhenIdle();
    this.log.info({ idleMs: this.spec.idleTimeoutMs }, `service "${this.name}": idle for ${this.spec.idleTimeoutMs}ms, ${pause ? 'pausing' : 'stopping'} container "${this.spec.container}"`);
    if (pause) this.beginPause(s);
    else void this.beginStop('idle', false);
  }

  /** idleAction: pause, on a provider that can (config checks catch the others; this is the backstop). */
  private pausesWhenIdle(): boolean {
    return this.spec.idleAction === 'pause' && canPause(this.deps.provider);
  }

  private warnCannotPause(spec: ActivationSpec): void {
    if (spec.idleAction === 'pause' && !canPause(this.deps.provider)) {
      this.log.warn({}, `service "${this.name}": idleAction: pause needs a provider that can pause, and ${this.deps.provider.endpoint} cannot; idle containers are stopped instead`);
    }
  }

  /**
   * Freezes the idle container: 'pausing', then 'paused' with the stopAfter timer armed. A failed
   * pause (the engine refused, or the container stopped meanwhile) stops it instead: the idle
   * container does not stay up. Connections arriving meanwhile wait for `done`, then unpause it.
   */
  private beginPause(ready: Extract<State, { kind: 'ready' }>): void {
    const { provider, clock } = this.deps;
    this.disarmIdle();
    const done = Promise.resolve().then(async () => {
      const t0 = clock.now();
      const limit = deadline(clock, PAUSE_TIMEOUT_MS);
      try {
        if (!canPause(provider)) throw new Error('the provider cannot pause');
        await provider.pause(this.spec.container, limit.signal);
        this.setState({ kind: 'paused', targets: ready.targets, since: clock.now() });
        this.stopAfter.arm();
        this.log.info({ pauseMs: clock.now() - t0 }, `service "${this.name}": paused container "${this.spec.container}" (idle) in ${clock.now() - t0}ms`);
      } catch (err) {
        this.log.warn({ err: describe(err) }, `service "${this.name}": pausing container "${this.spec.container}" failed: ${describe(err)}; stopping it instead`);
        void this.beginStop('idle', false);
      } finally {
        limit.cancel();
      }
    });
    this.setState({ kind: 'pausing', targets: ready.targets, done });
  }

  /** A connection for a paused service: the single-flight unpause every waiting connection joins. */
  private beginUnpause(paused: Extract<State, { kind: 'paused' }>): void {
    this.stopAfter.disarm();
    const st: Unpausing = { kind: 'unpausing', targets: paused.targets, ready: Promise.resolve(), stop: undefined };
    // Deferred by a microtask so that the state is 'unpausing' before the request is sent.
    st.ready = Promise.resolve().then(() => this.runUnpause(st));
    st.ready.catch(() => undefined);
    this.setState(st);
  }

  /**
   * Unpauses, and the service is ready: no readiness check follows. The app was ready when it was
   * frozen and resumes where it stopped — its listening socket stayed open (the kernel even
   * completes handshakes for a frozen listener, so a TCP probe could not tell a thawed app from a
   * frozen one anyway); a dead app is caught as after any start, by the upstream connect failing
   * (upstreamFailed re-inspects). When the container turns out not to be paused (stopped, or
   * unpaused by someone else meanwhile) or the engine refuses, a normal start follows, which starts
   * a stopped container and adopts a running one; the waiters join it. An engine that does not
   * answer within startTimeout fails the waiters ('failed', no back-off).
   */
  private async runUnpause(st: Unpausing): Promise<void> {
    const { provider, clock } = this.deps;
    const container = this.spec.container;
    const t0 = clock.now();
    const limit = deadline(clock, this.spec.startTimeoutMs);
    let thawed: boolean;
    let why = 'it was not paused';
    let hung: EngineTimeoutError | undefined;
    try {
      thawed = canPause(provider) && (await provider.unpause(container, limit.signal));
    } catch (err) {
      thawed = false;
      why = describe(err);
      if (err instanceof EngineTimeoutError) hung = err;
    } finally {
      limit.cancel();
    }
    if (st.stop !== undefined) {
      this.log.info({ reason: st.stop }, `service "${this.name}": unpause abandoned (${st.stop} stop); stopping container "${container}"`);
      void this.beginStop(st.stop, false);
      throw new AbortedError(`service "${this.name}": unpause (stopped by ${st.stop})`);
    }
    if (this.state !== st) return;
    if (hung !== undefined) {
      // A start would hang as well: the waiters fail now; the next connection starts afresh (a
      // start finds the container paused and unpauses it).
      const error = forService(this.name, hung);
      this.log.error({ code: error.code }, error.message);
      this.deps.emit({ type: 'failed', service: this.name, code: error.code, message: error.message, at: clock.now() });
      this.setState({ kind: 'failed', error, backoff: undefined });
      throw error;
    }
    if (!thawed) {
      this.log.info({ why }, `service "${this.name}": unpausing container "${container}" did not thaw it (${why}); starting it`);
      this.beginStart();
      return;
    }
    const t1 = clock.now();
    this.lastStart = { at: t0, containerStartMs: t1 - t0, readinessMs: 0, startedByUs: this.startedByUs, unpaused: true };
    this.setState({ kind: 'ready', targets: st.targets });
    this.armIdle();
    const timings = this.lastStart;
    // After the held connections went on, as for a start.
    setImmediate(() => {
      this.log.info({ unpauseMs: t1 - t0, upstream: formatEndpoint(st.targets.data) }, `service "${this.name}": unpaused container "${container}", ready in ${t1 - t0}ms → ${formatEndpoint(st.targets.data)}`);
      this.deps.emit({ type: 'activated', service: this.name, timings, firstWaitMs: t1 - t0, at: t1 });
    });
  }

  /** Paused for stopAfter: stopped, as an idle container is without idleAction: pause. */
  private onStopAfter(): void {
    if (this.state.kind !== 'paused') return;
    this.log.info({ stopAfterMs: this.spec.stopAfterMs }, `service "${this.name}": paused for ${formatMs(this.spec.stopAfterMs ?? 0)}, stopping container "${this.spec.container}"`);
    void this.beginStop('idle', false);
  }

  /**
   * No byte moved for idleTimeout: the open (silent) connections are closed in order first — a
   * FIN each way, so that a reverse proxy's keep-alive connection ends cleanly rather than with a
   * reset when the container goes — then the container is stopped.
   */
  private onTrafficIdle(traffic: TrafficIdle): void {
    if (this.state.kind !== 'ready') return;
    if (this.held > 0) {
      traffic.start(); // a connection is being handed over: not idle
      return;
    }
    const open = this.leases.size;
    const pause = this.pausesWhenIdle();
    this.log.info({ idleMs: this.spec.idleTimeoutMs, open }, `service "${this.name}": no traffic for ${this.spec.idleTimeoutMs}ms, closing ${open} silent connection(s) and ${pause ? 'pausing' : 'stopping'} container "${this.spec.container}"`);
    if (pause) this.beginPause(this.state);
    else void this.beginStop('idle', false);
    for (const l of [...this.leases]) l.revoke('idle');
  }

  /** The service became ready (or was asked to be): the idle clock starts. */
  private armIdle(): void {
    if (this.traffic !== undefined) {
      if (this.state.kind === 'ready') this.traffic.start();
    } else if (this.leases.size === 0) {
      this.idle.arm();
    }
  }

  private disarmIdle(): void {
    this.idle.disarm();
    this.traffic?.stop();
  }

  /** Bytes moved by every connection so far, both ways (natively forwarded ones: within a second). */
  private bytesMoved(): number {
    let total = this.closedBytesIn + this.closedBytesOut;
    for (const l of this.leases) total += l.bytesIn + l.bytesOut;
    return total;
  }

  /**
   * Enters 'stopping', then `after` (default 'stopped'); the returned promise is the stop's `done`,
   * which never rejects. The stop request has a deadline (stopTimeout plus a margin): a hung engine
   * does not keep the service, nor connections waiting for it, in 'stopping'.
   */
  private beginStop(reason: StopReason, drain: boolean, after: State = { kind: 'stopped' }): Promise<void> {
    const { provider, clock } = this.deps;
    this.disarmIdle();
    this.stopAfter.disarm();
    const done = Promise.resolve().then(async () => {
      const t0 = clock.now();
      if (drain) await this.drain(this.spec.stopTimeoutMs);
      const limit = deadline(clock, this.spec.stopTimeoutMs + STOP_MARGIN_MS);
      try {
        await stopGroup(provider, this.spec, Math.ceil(this.spec.stopTimeoutMs / 1000), limit.signal);
        this.log.info({ reason, stopMs: clock.now() - t0 }, `service "${this.name}": stopped ${this.spec.members === undefined ? 'container' : 'containers'} "${groupOf(this.spec).join('", "')}" (${reason}) in ${clock.now() - t0}ms`);
      } catch (err) {
        this.log.warn({ err: describe(err) }, `service "${this.name}": stopping container "${this.spec.container}" failed: ${describe(err)}; the next connection re-inspects it`);
      } finally {
        limit.cancel();
        this.startedByUs = false;
        this.setState(after);
        this.revokeAll();
      }
    });
    this.setState({ kind: 'stopping', done });
    return done;
  }

  /** Resolves when no lease is open (told by release()), or after timeoutMs. */
  private drain(timeoutMs: number): Promise<void> {
    if (this.leases.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.deps.clock.setTimer(timeoutMs, finish);
      this.drained.push(finish);
      function finish(): void {
        timer.cancel();
        resolve();
      }
    });
  }

  /** Dependencies are let go of once this service is down (stopped, or its start failed): they may idle out then. */
  private letGoOfDependencies(): void {
    const release = this.releaseDependencies;
    this.releaseDependencies = undefined;
    release?.();
  }

  private setState(next: State): void {
    const from = this.state.kind;
    this.state = next;
    if (next.kind === 'stopped' || next.kind === 'failed') this.letGoOfDependencies();
    if (from !== next.kind) this.deps.emit({ type: 'state', service: this.name, from, to: next.kind, at: this.deps.clock.now() });
  }
}
