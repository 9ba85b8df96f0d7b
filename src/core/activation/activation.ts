// Per-service activation, the state machine: stopped → starting → ready → stopping, a
// single-flight start that every waiting connection joins, the leases that keep it awake, and the
// transitions of idleAction: pause (ready → pausing → paused → unpausing → ready). What idleness
// means is idle-policy.ts's; the engine's side of a start, stop and pause is bring-up.ts, start.ts,
// stop.ts and pause.ts; re-reading the engine's truth is resync.ts; dependsOn is dependencies.ts.

import { raceAbort } from '../abort.ts';
import type { Backend, Lease, RefusalReason, WakeRequest } from '../backend.ts';
import { AbortedError, ContainerExitedError, EngineTimeoutError, PortwakeError, StartLimitedError, describe, forService } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ContainerEvent, ContainerInfo, Endpoint } from '../provider.ts';
import { RateLimitedReporter } from '../rate-limit.ts';
import type { ServiceStateKind, ServiceStatus, StartTimings } from '../status.ts';
import { formatEndpoint } from '../upstream.ts';
import { wakeVerdict } from '../wake.ts';
import { HeldDependencies } from './dependencies.ts';
import { groupOf } from './group.ts';
import { IdlePolicy } from './idle-policy.ts';
import { Leases } from './lease.ts';
import { pauseContainer, unpauseContainer } from './pause.ts';
import { RestartPolicyManager } from './restart-policy.ts';
import { inspectRun, needsResync, resyncVerdict, SingleFlight, type RunTruth } from './resync.ts';
import { reportReady, runStart } from './start.ts';
import { backoffWarning, StartLimit } from './start-limit.ts';
import { stopAbandoned, stopContainers } from './stop.ts';
import type { ActivationDeps, ActivationSpec, Failed, Starting, State, StopReason, Unpausing } from './types.ts';

export type { ActivationDeps, ActivationSpec } from './types.ts';
export { FIRST_BACKOFF_MS, START_LIMIT_DEFAULTS } from './start-limit.ts';
export { PAUSE_TIMEOUT_MS } from './pause.ts';
export { STOP_MARGIN_MS } from './stop.ts';

const REFUSAL_LOG_INTERVAL_MS = 10_000;

type Ready = Extract<State, { kind: 'ready' }>;
type Paused = Extract<State, { kind: 'paused' }>;

export class Activation implements Backend {
  readonly name: string;
  private state: State = { kind: 'stopped' };
  private readonly leases: Leases;
  private held = 0;
  private lastStart: StartTimings | undefined;
  private containerId: string | undefined;
  /** Ids of a group's other containers, as last inspected (for matches()). */
  private memberIds = new Set<string>();
  /** The dependencies (dependsOn) this service holds while starting or up; let go of once it has stopped. */
  private readonly dependencies: HeldDependencies;
  private readonly restartPolicy: RestartPolicyManager;
  /** When the run portwake uses started (engine clock), once confirmed by inspect. */
  private runStartedAt: number | undefined;
  private startedByUs = false;
  private readonly startLimit = new StartLimit();
  private readonly resyncs = new SingleFlight();
  private readonly idle: IdlePolicy;
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
    this.leases = new Leases(deps.clock, (remaining) => this.idle.released(remaining, this.state.kind === 'ready'));
    this.idle = new IdlePolicy(spec, deps.clock, deps.provider, this.log, {
      load: () => (this.state.kind === 'ready' ? { open: this.leases.size, held: this.held } : undefined),
      paused: () => this.state.kind === 'paused',
      bytesMoved: () => {
        const { bytesIn, bytesOut } = this.leases.bytes();
        return bytesIn + bytesOut;
      },
      idle: (pause) => {
        if (pause && this.state.kind === 'ready') this.beginPause(this.state);
        else void this.beginStop('idle', false);
      },
      closeSilent: () => this.leases.revokeAll('idle'),
    });
    this.dependencies = new HeldDependencies(deps.dependencies);
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

  async upstreamFailed(upstream: Endpoint, error: Error): Promise<void> {
    const s = this.state;
    if (s.kind !== 'ready' || formatEndpoint(s.targets.data) !== formatEndpoint(upstream)) return;
    this.log.debug({ err: describe(error) }, `service "${this.name}": upstream ${formatEndpoint(upstream)} refused a connection (${describe(error)}); re-inspecting the container`);
    await this.resync('upstream unreachable');
  }

  // ---- control ----

  /** Starts the service if needed and waits until it is ready (POST /services/NAME/start); clears a back-off. */
  async ensureReady(signal: AbortSignal): Promise<void> {
    this.clearBackoff('a manual start');
    await this.untilReady(signal);
    this.idle.arm(this.state.kind === 'ready', this.leases.size);
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
    this.spec = spec;
    this.idle.update(spec, this.state.kind === 'ready', this.leases.size);
    // Paused, and idle containers are now stopped: it has been idle, so it is stopped now.
    if (this.state.kind === 'paused' && !this.idle.pausesWhenIdle) void this.beginStop('idle', false);
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
    this.idle.disarm();
    this.idle.disarmStopAfter();
    if (this.state.kind === 'starting') this.state.abort.abort(new AbortedError(`service "${this.name}": start (shutting down)`));
  }

  // ---- events from the engine (resync.ts decides what calls for a look) ----

  /** Whether an engine event concerns this service's container. */
  matches(event: ContainerEvent): boolean {
    if (event.id === this.containerId || event.name === this.spec.container || event.id === this.spec.container) return true;
    const members = this.spec.members;
    return members !== undefined && (this.memberIds.has(event.id) || members.includes(event.name) || members.includes(event.id));
  }

  /** A container event for this service's container; confirmed with inspect before acting (see needsResync). */
  async onContainerEvent(event: ContainerEvent): Promise<void> {
    if (needsResync(event, this.state.kind, this.runStartedAt)) await this.resync(event.kind);
  }

  /**
   * Re-reads the container's state (after an event, or after the events stream reconnected) and
   * adopts it: a container that is no longer running closes its connections and returns to stopped.
   * One inspection in flight per service.
   */
  resync(cause: string): Promise<void> {
    return this.resyncs.run(() => this.resyncOnce(cause));
  }

  private async resyncOnce(cause: string): Promise<void> {
    const s = this.state;
    if (s.kind !== 'ready' && s.kind !== 'starting' && s.kind !== 'paused') return;
    // A start not yet confirmed running notices a real exit through its own inspections: an
    // inspection now could land before the engine has even run the start request.
    if (s.kind === 'starting' && this.runStartedAt === undefined) return;
    let truth: RunTruth;
    try {
      truth = await inspectRun(this.deps.provider, this.deps.clock, this.spec, this.containerId);
    } catch (err) {
      this.log.warn({ err: describe(err) }, `service "${this.name}": cannot re-inspect container after ${cause}: ${describe(err)}, ignoring`);
      return;
    }
    if (this.state !== s) return;
    const open = this.leases.size;
    switch (resyncVerdict(s.kind, truth, this.spec.members !== undefined && this.spec.members.length > 0)) {
      case 'none':
        return;
      case 'paused outside':
        // New connections unpause it; stopAfter counts from now.
        this.log.info({ cause }, `service "${this.name}": container "${this.spec.container}" was paused outside portwake; the next connection unpauses it`);
        this.idle.disarm();
        this.setState({ kind: 'paused', targets: (s as Ready).targets, since: this.deps.clock.now() });
        this.idle.armStopAfter();
        return;
      case 'unpaused outside':
        // Ready again (as it was when paused), idle from now.
        this.log.info({ cause }, `service "${this.name}": container "${this.spec.container}" was unpaused outside portwake; ready`);
        this.idle.disarmStopAfter();
        this.setState({ kind: 'ready', targets: (s as Paused).targets });
        this.idle.arm(true, this.leases.size);
        return;
      case 'exited while starting':
        (s as Starting).abort.abort(new ContainerExitedError(truth.down, truth.exitCode));
        return;
      case 'group member down':
        // One container of a group gone is the group down: the rest are stopped, and the next
        // connection starts them all again.
        this.log.warn({ cause, open, down: truth.down }, `service "${this.name}": container "${truth.down}" of the group stopped outside portwake (${cause}); closing ${open} open connection(s) and stopping the rest of the group (${groupOf(this.spec).filter((c) => c !== truth.down).join(', ')})`);
        this.leases.revokeAll();
        void this.beginStop('group member exited', false);
        return;
      case 'stopped outside':
        this.log.warn({ cause, open }, `service "${this.name}": container "${this.spec.container}" stopped outside portwake (${cause}); closing ${open} open connection(s)`);
        this.idle.disarm();
        this.idle.disarmStopAfter();
        this.startedByUs = false;
        this.setState({ kind: 'stopped' });
        this.leases.revokeAll();
        return;
    }
  }

  // ---- status ----

  status(): ServiceStatus {
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
      ...this.leases.bytes(),
      lastActivity: this.leases.lastActivity,
      lastStart: this.lastStart,
      idleDeadline: this.idle.deadline(this.state.kind === 'paused'),
      idleOn: this.spec.idleOn ?? 'connections',
      idleAction: this.idle.pausesWhenIdle ? 'pause' : 'stop',
      ...(backoff === undefined ? {} : { backoffUntil: backoff.until, backoffRefused: backoff.refused }),
    };
  }

  // ---- transitions ----

  /** Loops through the states until ready (joining a start or stop in flight), or throws. */
  private async untilReady(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const s = this.state;
      switch (s.kind) {
        case 'ready':
          return;
        case 'starting':
        case 'unpausing':
          await raceAbort(s.ready, signal);
          break;
        case 'stopping':
        case 'pausing':
          await raceAbort(s.done, signal);
          break;
        case 'failed':
          if (this.backingOff(s)) throw forService(this.name, new StartLimitedError(this.spec.container, s.backoff.until, s.error));
          this.prepare();
          break;
        case 'paused':
        case 'stopped':
          this.prepare();
          break;
      }
    }
  }

  private lease(state: Ready): Lease {
    const l = this.leases.grant(state.targets.data);
    this.idle.acquired();
    return l;
  }

  private beginStart(): void {
    const s = this.state;
    if (s.kind === 'failed' && s.backoff !== undefined) {
      this.log.info({ refused: s.backoff.refused }, `service "${this.name}": back-off over${s.backoff.refused > 0 ? ` (${s.backoff.refused} connection(s) refused during it)` : ''}; trying a start`);
    }
    const starting: Starting = { kind: 'starting', ready: Promise.resolve(), abort: new AbortController(), stop: undefined, started: undefined };
    // Deferred by a microtask so that the state is 'starting' before the start runs.
    starting.ready = Promise.resolve().then(() => this.start(starting));
    starting.ready.catch(() => undefined); // waiters observe the rejection; nobody waiting is fine too
    this.setState(starting);
  }

  private async start(st: Starting): Promise<void> {
    const { clock } = this.deps;
    const container = this.spec.container;
    const t0 = clock.now();
    this.runStartedAt = undefined;
    const manage = (info: ContainerInfo): void => {
      if (this.spec.restartPolicy === 'manage') void this.restartPolicy.manage(info);
    };
    let up: Awaited<ReturnType<typeof runStart>>;
    try {
      up = await runStart(this.spec, this.deps, st, this.dependencies, t0, {
        inspected: (info) => {
          this.containerId = info.id;
          manage(info);
        },
        members: (infos) => {
          this.memberIds = new Set(infos.map((i) => i.id));
          for (const i of infos) manage(i);
        },
        running: (info) => {
          this.runStartedAt = info.startedAt;
        },
      });
    } catch (err) {
      throw this.startFailed(st, st.abort.signal.aborted ? st.abort.signal.reason : err);
    }
    const { targets, t1, started } = up;
    const t2 = clock.now();
    this.startedByUs = started;
    this.startLimit.clear();
    const timings: StartTimings = { at: t0, containerStartMs: t1 - t0, readinessMs: t2 - t1, startedByUs: started };
    this.lastStart = timings;
    this.setState({ kind: 'ready', targets });
    this.idle.arm(true, this.leases.size);
    reportReady(this.log, this.deps.emit, this.name, timings, t2, () => [
      { startMs: t1 - t0, readinessMs: t2 - t1, upstream: formatEndpoint(targets.data), startedByUs: started },
      `service "${this.name}": ${started ? 'started' : 'found running'} container "${container}", ready in ${t2 - t0}ms ` +
        `(container start ${t1 - t0}ms, readiness ${t2 - t1}ms) → ${formatEndpoint(targets.data)}`,
    ]);
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
      this.log.warn({ until: new Date(backoff).toISOString(), backoffMs: backoff - clock.now() }, backoffWarning(this.spec, this.startLimit.backoffs, backoff, clock.now()));
    }
    this.deps.emit({ type: 'failed', service: this.name, code: error.code, message: error.message, at: clock.now() });
    if (disposed || !ours) {
      this.setState(failed);
    } else if (unanswered) {
      // The engine is not answering: new connections need not wait for this stop.
      this.setState(failed);
      stopAbandoned(this.deps.provider, clock, this.log, this.spec);
    } else {
      void this.beginStop('start failed', false, failed);
    }
    return error;
  }

  private backingOff(s: Failed): s is Failed & { backoff: { until: number; refused: number } } {
    return s.backoff !== undefined && this.deps.clock.now() < s.backoff.until;
  }

  /**
   * Freezes the idle container: 'pausing', then 'paused' with the stopAfter timer armed. A failed
   * pause (the engine refused, or the container stopped meanwhile) stops it instead: the idle
   * container does not stay up. Connections arriving meanwhile wait for `done`, then unpause it.
   */
  private beginPause(ready: Ready): void {
    const { provider, clock } = this.deps;
    this.idle.disarm();
    const done = Promise.resolve().then(async () => {
      const t0 = clock.now();
      try {
        await pauseContainer(provider, clock, this.spec.container);
        this.setState({ kind: 'paused', targets: ready.targets, since: clock.now() });
        this.idle.armStopAfter();
        this.log.info({ pauseMs: clock.now() - t0 }, `service "${this.name}": paused container "${this.spec.container}" (idle) in ${clock.now() - t0}ms`);
      } catch (err) {
        this.log.warn({ err: describe(err) }, `service "${this.name}": pausing container "${this.spec.container}" failed: ${describe(err)}; stopping it instead`);
        void this.beginStop('idle', false);
      }
    });
    this.setState({ kind: 'pausing', targets: ready.targets, done });
  }

  /** A connection for a paused service: the single-flight unpause every waiting connection joins. */
  private beginUnpause(paused: Paused): void {
    this.idle.disarmStopAfter();
    const st: Unpausing = { kind: 'unpausing', targets: paused.targets, ready: Promise.resolve(), stop: undefined };
    // Deferred by a microtask so that the state is 'unpausing' before the request is sent.
    st.ready = Promise.resolve().then(() => this.unpause(st));
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
  private async unpause(st: Unpausing): Promise<void> {
    const { provider, clock } = this.deps;
    const container = this.spec.container;
    const t0 = clock.now();
    const outcome = await unpauseContainer(provider, clock, container, this.spec.startTimeoutMs);
    if (st.stop !== undefined) {
      this.log.info({ reason: st.stop }, `service "${this.name}": unpause abandoned (${st.stop} stop); stopping container "${container}"`);
      void this.beginStop(st.stop, false);
      throw new AbortedError(`service "${this.name}": unpause (stopped by ${st.stop})`);
    }
    if (this.state !== st) return;
    if (!outcome.thawed && outcome.hung !== undefined) {
      // A start would hang as well: the waiters fail now; the next connection starts afresh (a
      // start finds the container paused and unpauses it).
      const error = forService(this.name, outcome.hung);
      this.log.error({ code: error.code }, error.message);
      this.deps.emit({ type: 'failed', service: this.name, code: error.code, message: error.message, at: clock.now() });
      this.setState({ kind: 'failed', error, backoff: undefined });
      throw error;
    }
    if (!outcome.thawed) {
      this.log.info({ why: outcome.why }, `service "${this.name}": unpausing container "${container}" did not thaw it (${outcome.why}); starting it`);
      this.beginStart();
      return;
    }
    const t1 = clock.now();
    const timings: StartTimings = { at: t0, containerStartMs: t1 - t0, readinessMs: 0, startedByUs: this.startedByUs, unpaused: true };
    this.lastStart = timings;
    this.setState({ kind: 'ready', targets: st.targets });
    this.idle.arm(true, this.leases.size);
    reportReady(this.log, this.deps.emit, this.name, timings, t1, () => [
      { unpauseMs: t1 - t0, upstream: formatEndpoint(st.targets.data) },
      `service "${this.name}": unpaused container "${container}", ready in ${t1 - t0}ms → ${formatEndpoint(st.targets.data)}`,
    ]);
  }

  /**
   * Enters 'stopping', then `after` (default 'stopped'); the returned promise is the stop's `done`,
   * which never rejects. `drain`: open connections get up to stopTimeout to finish first.
   */
  private beginStop(reason: StopReason, drain: boolean, after: State = { kind: 'stopped' }): Promise<void> {
    const { provider, clock } = this.deps;
    this.idle.disarm();
    this.idle.disarmStopAfter();
    const done = Promise.resolve().then(async () => {
      const t0 = clock.now();
      if (drain) await this.leases.drain(this.spec.stopTimeoutMs);
      await stopContainers(provider, clock, this.log, this.spec, reason, t0);
      this.startedByUs = false;
      this.setState(after);
      this.leases.revokeAll();
    });
    this.setState({ kind: 'stopping', done });
    return done;
  }

  private setState(next: State): void {
    const from = this.state.kind;
    this.state = next;
    // Dependencies are let go of once this service is down (stopped, or its start failed): they may idle out then.
    if (next.kind === 'stopped' || next.kind === 'failed') this.dependencies.letGo();
    if (from !== next.kind) this.deps.emit({ type: 'state', service: this.name, from, to: next.kind, at: this.deps.clock.now() });
  }
}
