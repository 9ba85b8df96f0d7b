// One service's states and the transitions between them: stopped → starting → ready → stopping
// (or failed), and with idleAction: pause, ready → pausing → paused → unpausing → ready. A start
// and an unpause are single flights every waiter joins; a stop wins over both. Owns the leases and
// the idle policy (which a transition arms and disarms) and what is known of the current run.
// Activation (activation.ts) is its face: the Backend, the control API, events and status.

import type { Lease } from '../backend.ts';
import { AbortedError, EngineTimeoutError, PortwakeError, describe, forService } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ContainerInfo } from '../provider.ts';
import type { StartTimings } from '../status.ts';
import { formatEndpoint } from '../upstream.ts';
import { HeldDependencies } from './dependencies.ts';
import { IdlePolicy } from './idle-policy.ts';
import { Leases } from './lease.ts';
import { pauseContainer, unpauseContainer } from './pause.ts';
import { RestartPolicyManager } from './restart-policy.ts';
import { reportReady, runStart } from './start.ts';
import { backoffWarning, StartLimit } from './start-limit.ts';
import { stopAbandoned, stopContainers } from './stop.ts';
import type { ActivationDeps, ActivationSpec, Failed, Starting, State, StopReason, Unpausing } from './types.ts';

type Ready = Extract<State, { kind: 'ready' }>;
type Paused = Extract<State, { kind: 'paused' }>;

export class Lifecycle {
  private current: State = { kind: 'stopped' };
  readonly leases: Leases;
  readonly idle: IdlePolicy;
  private readonly startLimit = new StartLimit();
  // What is known of the current run: read by Activation (matches, events, status), written only here.
  lastStart: StartTimings | undefined;
  containerId: string | undefined;
  /** Ids of a group's other containers, as last inspected (for Activation.matches()). */
  memberIds = new Set<string>();
  /** When the run portwake uses started (engine clock), once confirmed by inspect. */
  runStartedAt: number | undefined;
  startedByUs = false;
  /** The dependencies (dependsOn) this service holds while starting or up; let go of once it has stopped. */
  private readonly dependencies: HeldDependencies;
  private readonly restartPolicy: RestartPolicyManager;

  constructor(
    /** The service's spec as it is now (a reload replaces it). */
    private readonly specOf: () => ActivationSpec,
    private readonly deps: ActivationDeps,
    private readonly log: Logger,
    /** Connections the frontends hold for this service (Backend.setHeld). */
    held: () => number,
  ) {
    const spec = specOf();
    this.leases = new Leases(deps.clock, (remaining) => this.idle.released(remaining, this.current.kind === 'ready'));
    this.idle = new IdlePolicy(spec, deps.clock, deps.provider, log, {
      load: () => (this.current.kind === 'ready' ? { open: this.leases.size, held: held() } : undefined),
      paused: () => this.current.kind === 'paused',
      bytesMoved: () => {
        const { bytesIn, bytesOut } = this.leases.bytes();
        return bytesIn + bytesOut;
      },
      idle: (pause) => {
        if (pause && this.current.kind === 'ready') this.beginPause(this.current);
        else void this.beginStop('idle', false);
      },
      closeSilent: () => this.leases.revokeAll('idle'),
    });
    this.dependencies = new HeldDependencies(deps.dependencies);
    this.restartPolicy = new RestartPolicyManager(deps.provider, log, spec.name);
  }

  get state(): State {
    return this.current;
  }

  private get spec(): ActivationSpec {
    return this.specOf();
  }

  private get name(): string {
    return this.spec.name;
  }

  /** Starts the service if it is stopped or failed, unpauses it if paused. */
  prepare(): void {
    const s = this.current;
    if (s.kind === 'paused') this.beginUnpause(s);
    else if (s.kind === 'stopped' || (s.kind === 'failed' && !this.backingOff(s))) this.beginStart();
  }

  lease(state: Ready): Lease {
    const l = this.leases.grant(state.targets.data);
    this.idle.acquired();
    return l;
  }

  backingOff(s: Failed): s is Failed & { backoff: { until: number; refused: number } } {
    return s.backoff !== undefined && this.deps.clock.now() < s.backoff.until;
  }

  /** Ends a back-off: the next connection starts the container. */
  clearBackoff(why: string): void {
    this.startLimit.clear();
    const s = this.current;
    if (s.kind !== 'failed' || s.backoff === undefined) return;
    this.log.info({ refused: s.backoff.refused }, `service "${this.name}": back-off cleared by ${why}${s.backoff.refused > 0 ? `; ${s.backoff.refused} connection(s) were refused during it` : ''}`);
    this.current = { ...s, backoff: undefined };
  }

  private beginStart(): void {
    const s = this.current;
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
    if (this.current !== st) return error;
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
    if (this.current !== st) return;
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
  beginStop(reason: StopReason, drain: boolean, after: State = { kind: 'stopped' }): Promise<void> {
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

  // ---- changes made outside portwake, found by a resync (resync.ts) ----

  /** Someone else paused the container: new connections unpause it; stopAfter counts from now. */
  pausedOutside(): void {
    const s = this.current;
    if (s.kind !== 'ready') return;
    this.idle.disarm();
    this.setState({ kind: 'paused', targets: s.targets, since: this.deps.clock.now() });
    this.idle.armStopAfter();
  }

  /** Someone else unpaused the container: it is ready again (as it was when paused), idle from now. */
  unpausedOutside(): void {
    const s = this.current;
    if (s.kind !== 'paused') return;
    this.idle.disarmStopAfter();
    this.setState({ kind: 'ready', targets: s.targets });
    this.idle.arm(true, this.leases.size);
  }

  /** The container stopped outside portwake: stopped, its connections closed. */
  stoppedOutside(): void {
    this.idle.disarm();
    this.idle.disarmStopAfter();
    this.startedByUs = false;
    this.setState({ kind: 'stopped' });
    this.leases.revokeAll();
  }

  private setState(next: State): void {
    const from = this.current.kind;
    this.current = next;
    // Dependencies are let go of once this service is down (stopped, or its start failed): they may idle out then.
    if (next.kind === 'stopped' || next.kind === 'failed') this.dependencies.letGo();
    if (from !== next.kind) this.deps.emit({ type: 'state', service: this.name, from, to: next.kind, at: this.deps.clock.now() });
  }
}
