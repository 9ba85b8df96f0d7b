// Per-service activation, the face the rest of portwake sees: the Backend the frontends ask for
// leases (tryAcquire, acquire with its single-flight start, the wake filter, refusals), the control
// API (start, stop, reload in place, dispose), engine events and resync, and status. The states and
// transitions are lifecycle.ts's; what idleness means is idle-policy.ts's; re-reading the engine's
// truth is resync.ts's.

import { raceAbort } from '../abort.ts';
import type { Backend, Lease, RefusalReason, WakeRequest } from '../backend.ts';
import { AbortedError, ContainerExitedError, StartLimitedError, describe, forService } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ContainerEvent, Endpoint } from '../provider.ts';
import { RateLimitedReporter } from '../rate-limit.ts';
import type { ServiceStateKind, ServiceStatus } from '../status.ts';
import { formatEndpoint } from '../upstream.ts';
import { wakeVerdict } from '../wake.ts';
import { groupOf } from './group.ts';
import { Lifecycle } from './lifecycle.ts';
import { inspectRun, needsResync, resyncVerdict, SingleFlight, type RunTruth } from './resync.ts';
import type { ActivationDeps, ActivationSpec } from './types.ts';

export type { ActivationDeps, ActivationSpec } from './types.ts';
export { FIRST_BACKOFF_MS, START_LIMIT_DEFAULTS } from './start-limit.ts';
export { PAUSE_TIMEOUT_MS } from './pause.ts';
export { STOP_MARGIN_MS } from './stop.ts';

const REFUSAL_LOG_INTERVAL_MS = 10_000;

export class Activation implements Backend {
  readonly name: string;
  private readonly life: Lifecycle;
  private held = 0;
  private readonly resyncs = new SingleFlight();
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
    this.life = new Lifecycle(() => this.spec, deps, this.log, () => this.held);
    this.refusals = new RateLimitedReporter(deps.clock, REFUSAL_LOG_INTERVAL_MS, (reason, suppressed) => {
      this.log.warn({ reason, suppressed }, `service "${this.name}": refused a connection (${reason})${suppressed > 0 ? `; ${suppressed} more since the last report` : ''}`);
    });
  }

  get stateKind(): ServiceStateKind {
    return this.life.state.kind;
  }

  get openConnections(): number {
    return this.life.leases.size;
  }

  // ---- Backend (used by the proxy frontends) ----

  tryAcquire(): Lease | undefined {
    const s = this.life.state;
    return s.kind === 'ready' ? this.life.lease(s) : undefined;
  }

  async acquire(signal: AbortSignal): Promise<Lease> {
    await this.untilReady(signal);
    // untilReady returns only in the ready state, in the same tick.
    const state = this.life.state;
    if (state.kind !== 'ready') throw new AbortedError(`service "${this.name}": acquire`);
    return this.life.lease(state);
  }

  /** Starts the service if it is stopped or failed, unpauses it if paused: what a waiter (acquire, untilReady) needs first. */
  prepare(): void {
    this.life.prepare();
  }

  /** Up or starting: all traffic flows; otherwise the wake filter (`wake:`) decides. */
  mayWake(request: WakeRequest): boolean {
    const kind = this.life.state.kind;
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
    const s = this.life.state;
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
    const s = this.life.state;
    if (s.kind !== 'ready' || formatEndpoint(s.targets.data) !== formatEndpoint(upstream)) return;
    this.log.debug({ err: describe(error) }, `service "${this.name}": upstream ${formatEndpoint(upstream)} refused a connection (${describe(error)}); re-inspecting the container`);
    await this.resync('upstream unreachable');
  }

  /** Loops through the states until ready (joining a start or stop in flight), or throws. */
  private async untilReady(signal: AbortSignal): Promise<void> {
    for (;;) {
      signal.throwIfAborted();
      const s = this.life.state;
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
          if (this.life.backingOff(s)) throw forService(this.name, new StartLimitedError(this.spec.container, s.backoff.until, s.error));
          this.prepare();
          break;
        case 'paused':
        case 'stopped':
          this.prepare();
          break;
      }
    }
  }

  // ---- control ----

  /** Starts the service if needed and waits until it is ready (POST /services/NAME/start); clears a back-off. */
  async ensureReady(signal: AbortSignal): Promise<void> {
    this.clearBackoff('a manual start');
    await this.untilReady(signal);
    this.life.idle.arm(this.life.state.kind === 'ready', this.life.leases.size);
  }

  /**
   * Drains and stops (POST /services/NAME/stop): new connections are held; open ones get up to
   * stopTimeout to finish before the container is stopped. Resolves once stopped.
   */
  async stop(reason: 'control' | 'shutdown' | 'removed'): Promise<void> {
    for (;;) {
      const s = this.life.state;
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
      return this.life.beginStop(reason, true);
    }
  }

  /**
   * A reload changed the timeouts or the readiness check, not the container or its upstream:
   * applied in place. Open connections, a start in flight and the running container are kept; the
   * next start uses the new readiness check; an armed idle timer keeps its start (retime()).
   */
  update(spec: ActivationSpec): void {
    this.spec = spec;
    this.life.idle.update(spec, this.life.state.kind === 'ready', this.life.leases.size);
    // Paused, and idle containers are now stopped: it has been idle, so it is stopped now.
    if (this.life.state.kind === 'paused' && !this.life.idle.pausesWhenIdle) void this.life.beginStop('idle', false);
  }

  /**
   * Whether portwake itself started the running container (for --stop-on-exit). A start in flight
   * counts unless the engine answered that the container was running already.
   */
  get ownsRunningContainer(): boolean {
    const s = this.life.state;
    const up = s.kind === 'ready' || s.kind === 'pausing' || s.kind === 'paused' || s.kind === 'unpausing';
    return (this.life.startedByUs && up) || (s.kind === 'starting' && s.started !== false);
  }

  /** Ends a back-off (a manual start, a config reload): the next connection starts the container. */
  clearBackoff(why: string): void {
    this.life.clearBackoff(why);
  }

  /** Cancels timers and a start in flight; connections are the frontend's to close. */
  dispose(): void {
    this.life.idle.disarm();
    this.life.idle.disarmStopAfter();
    const s = this.life.state;
    if (s.kind === 'starting') s.abort.abort(new AbortedError(`service "${this.name}": start (shutting down)`));
  }

  // ---- events from the engine (resync.ts decides what calls for a look) ----

  /** Whether an engine event concerns this service's container. */
  matches(event: ContainerEvent): boolean {
    if (event.id === this.life.containerId || event.name === this.spec.container || event.id === this.spec.container) return true;
    const members = this.spec.members;
    return members !== undefined && (this.life.memberIds.has(event.id) || members.includes(event.name) || members.includes(event.id));
  }

  /** A container event for this service's container; confirmed with inspect before acting (see needsResync). */
  async onContainerEvent(event: ContainerEvent): Promise<void> {
    if (needsResync(event, this.life.state.kind, this.life.runStartedAt)) await this.resync(event.kind);
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
    const s = this.life.state;
    if (s.kind !== 'ready' && s.kind !== 'starting' && s.kind !== 'paused') return;
    // A start not yet confirmed running notices a real exit through its own inspections: an
    // inspection now could land before the engine has even run the start request.
    if (s.kind === 'starting' && this.life.runStartedAt === undefined) return;
    let truth: RunTruth;
    try {
      truth = await inspectRun(this.deps.provider, this.deps.clock, this.spec, this.life.containerId);
    } catch (err) {
      this.log.warn({ err: describe(err) }, `service "${this.name}": cannot re-inspect container after ${cause}: ${describe(err)}, ignoring`);
      return;
    }
    if (this.life.state !== s) return;
    const open = this.life.leases.size;
    switch (resyncVerdict(s.kind, truth, this.spec.members !== undefined && this.spec.members.length > 0)) {
      case 'none':
        return;
      case 'paused outside':
        this.log.info({ cause }, `service "${this.name}": container "${this.spec.container}" was paused outside portwake; the next connection unpauses it`);
        this.life.pausedOutside();
        return;
      case 'unpaused outside':
        this.log.info({ cause }, `service "${this.name}": container "${this.spec.container}" was unpaused outside portwake; ready`);
        this.life.unpausedOutside();
        return;
      case 'exited while starting':
        if (s.kind === 'starting') s.abort.abort(new ContainerExitedError(truth.down, truth.exitCode));
        return;
      case 'group member down':
        // One container of a group gone is the group down: the rest are stopped, and the next
        // connection starts them all again.
        this.log.warn({ cause, open, down: truth.down }, `service "${this.name}": container "${truth.down}" of the group stopped outside portwake (${cause}); closing ${open} open connection(s) and stopping the rest of the group (${groupOf(this.spec).filter((c) => c !== truth.down).join(', ')})`);
        this.life.leases.revokeAll();
        void this.life.beginStop('group member exited', false);
        return;
      case 'stopped outside':
        this.log.warn({ cause, open }, `service "${this.name}": container "${this.spec.container}" stopped outside portwake (${cause}); closing ${open} open connection(s)`);
        this.life.stoppedOutside();
        return;
    }
  }

  // ---- status ----

  status(): ServiceStatus {
    const s = this.life.state;
    const failed = s.kind === 'failed' ? s.error : undefined;
    const backoff = s.kind === 'failed' && this.life.backingOff(s) ? s.backoff : undefined;
    return {
      name: this.name,
      container: this.spec.container,
      state: s.kind,
      lastError: failed?.message,
      lastErrorCode: failed?.code,
      listeners: this.listeners,
      openConnections: this.life.leases.size,
      heldConnections: this.held,
      ...this.life.leases.bytes(),
      lastActivity: this.life.leases.lastActivity,
      lastStart: this.life.lastStart,
      idleDeadline: this.life.idle.deadline(s.kind === 'paused'),
      idleOn: this.spec.idleOn ?? 'connections',
      idleAction: this.life.idle.pausesWhenIdle ? 'pause' : 'stop',
      ...(backoff === undefined ? {} : { backoffUntil: backoff.until, backoffRefused: backoff.refused }),
    };
  }
}
