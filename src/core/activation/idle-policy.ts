// A service's idle policy: when it counts as idle (idleOn: connections — no lease open and none
// held — or traffic — no byte moved), what idleness does (idleAction: stop, or pause), and
// stopAfter (a container paused that long is stopped). Owns the timers and the decision; the
// lifecycle (lifecycle.ts) owns the states and carries out what this decides (IdleHost).

import type { Clock } from '../clock.ts';
import { formatMs } from '../errors.ts';
import { IdleTimer, TrafficIdle } from '../idle.ts';
import type { Logger } from '../logger.ts';
import { canPause, type Provider } from '../provider.ts';
import type { ActivationSpec } from './types.ts';

/** What the idle policy asks of the lifecycle. */
export interface IdleHost {
  /** While ready: open leases and held connections; undefined in any other state. */
  load(): { open: number; held: number } | undefined;
  /** Whether the service is paused (stopAfter applies only then). */
  paused(): boolean;
  /** Bytes moved by the service's connections so far, both ways (idleOn: traffic). */
  bytesMoved(): number;
  /** Idle: pause the ready service (true) or stop it (false, also after stopAfter). */
  idle(pause: boolean): void;
  /** Closes the open (silent) connections in order (idleOn: traffic). */
  closeSilent(): void;
}

export class IdlePolicy {
  private readonly idle: IdleTimer;
  /** idleAction: pause — armed on entering 'paused', stops the container after stopAfter. */
  private readonly stopAfter: IdleTimer;
  /** Set for `idleOn: traffic` with an idle timeout; the IdleTimer then stays unused. */
  private traffic: TrafficIdle | undefined;

  constructor(
    private spec: ActivationSpec,
    private readonly clock: Clock,
    private readonly provider: Provider,
    private readonly log: Logger,
    private readonly host: IdleHost,
  ) {
    this.idle = new IdleTimer(clock, spec.idleTimeoutMs, () => this.onIdle());
    this.stopAfter = new IdleTimer(clock, spec.stopAfterMs, () => this.onStopAfter());
    this.warnCannotPause();
    this.traffic = this.trafficIdle();
  }

  /**
   * A reload's new spec: an armed idle timer keeps its start (retime()); a new idle rule (or a
   * traffic rule's new timeout) starts its quiet period now. `ready`: the service's state is 'ready'.
   */
  update(spec: ActivationSpec, ready: boolean, open: number): void {
    const before = this.spec;
    this.spec = spec;
    this.warnCannotPause();
    this.stopAfter.retime(spec.stopAfterMs);
    if ((spec.idleOn ?? 'connections') !== (before.idleOn ?? 'connections') || (this.traffic !== undefined && spec.idleTimeoutMs !== before.idleTimeoutMs)) {
      this.disarm();
      this.traffic = this.trafficIdle();
      if (this.traffic === undefined) this.idle.retime(spec.idleTimeoutMs);
      if (ready) this.arm(true, open);
      return;
    }
    this.idle.retime(spec.idleTimeoutMs);
    if (ready && open === 0 && this.idle.deadline === undefined) this.idle.arm();
  }

  /** idleAction: pause, on a provider that can (config checks catch the others; this is the backstop). */
  get pausesWhenIdle(): boolean {
    return this.spec.idleAction === 'pause' && canPause(this.provider);
  }

  /** The service became ready (or was asked to be): the idle clock starts. */
  arm(ready: boolean, open: number): void {
    if (this.traffic !== undefined) {
      if (ready) this.traffic.start();
    } else if (open === 0) {
      this.idle.arm();
    }
  }

  disarm(): void {
    this.idle.disarm();
    this.traffic?.stop();
  }

  /** A lease was granted: traffic, or (idleOn: connections) not idle. */
  acquired(): void {
    if (this.traffic !== undefined) this.traffic.touch();
    else this.idle.disarm();
  }

  /** A lease was released, `remaining` still open. */
  released(remaining: number, ready: boolean): void {
    this.traffic?.touch();
    if (remaining === 0 && ready && this.traffic === undefined) this.idle.arm();
  }

  armStopAfter(): void {
    this.stopAfter.arm();
  }

  disarmStopAfter(): void {
    this.stopAfter.disarm();
  }

  /** When the service counts as idle (paused: when stopAfter stops it), for status. */
  deadline(paused: boolean): number | undefined {
    return paused ? this.stopAfter.deadline : this.traffic === undefined ? this.idle.deadline : this.traffic.deadline;
  }

  private trafficIdle(): TrafficIdle | undefined {
    const spec = this.spec;
    return spec.idleOn === 'traffic' && spec.idleTimeoutMs !== undefined
      ? new TrafficIdle(this.clock, spec.idleTimeoutMs, () => this.host.bytesMoved(), () => this.onIdle())
      : undefined;
  }

  private warnCannotPause(): void {
    if (this.spec.idleAction === 'pause' && !canPause(this.provider)) {
      this.log.warn({}, `service "${this.spec.name}": idleAction: pause needs a provider that can pause, and ${this.provider.endpoint} cannot; idle containers are stopped instead`);
    }
  }

  private onIdle(): void {
    if (this.traffic !== undefined) {
      this.onTrafficIdle(this.traffic);
      return;
    }
    const load = this.host.load();
    if (load === undefined || load.open > 0 || load.held > 0) return;
    const pause = this.pausesWhenIdle;
    this.log.info({ idleMs: this.spec.idleTimeoutMs }, `service "${this.spec.name}": idle for ${this.spec.idleTimeoutMs}ms, ${pause ? 'pausing' : 'stopping'} container "${this.spec.container}"`);
    this.host.idle(pause);
  }

  /**
   * No byte moved for idleTimeout: the open (silent) connections are closed in order first — a
   * FIN each way, so that a reverse proxy's keep-alive connection ends cleanly rather than with a
   * reset when the container goes — then the container is stopped.
   */
  private onTrafficIdle(traffic: TrafficIdle): void {
    const load = this.host.load();
    if (load === undefined) return;
    if (load.held > 0) {
      traffic.start(); // a connection is being handed over: not idle
      return;
    }
    const pause = this.pausesWhenIdle;
    this.log.info({ idleMs: this.spec.idleTimeoutMs, open: load.open }, `service "${this.spec.name}": no traffic for ${this.spec.idleTimeoutMs}ms, closing ${load.open} silent connection(s) and ${pause ? 'pausing' : 'stopping'} container "${this.spec.container}"`);
    this.host.idle(pause);
    this.host.closeSilent();
  }

  /** Paused for stopAfter: stopped, as an idle container is without idleAction: pause. */
  private onStopAfter(): void {
    if (!this.host.paused()) return;
    this.log.info({ stopAfterMs: this.spec.stopAfterMs }, `service "${this.spec.name}": paused for ${formatMs(this.spec.stopAfterMs ?? 0)}, stopping container "${this.spec.container}"`);
    this.host.idle(false);
  }
}
