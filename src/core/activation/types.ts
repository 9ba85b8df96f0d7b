// The activation's inputs (its spec and its dependencies) and its states.

import type { Clock } from '../clock.ts';
import type { PortwakeError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Provider } from '../provider.ts';
import type { Probes, ReadySpec } from '../readiness.ts';
import type { DaemonEvent } from '../status.ts';
import type { Targets, UpstreamSpec } from '../upstream.ts';
import type { WakeSpec } from '../wake.ts';

export interface ActivationSpec extends UpstreamSpec {
  name: string;
  ready: ReadySpec;
  startTimeoutMs: number;
  idleTimeoutMs: number | undefined;
  /** What idleTimeoutMs counts (default 'connections': no lease open; 'traffic': no bytes moved). */
  idleOn?: 'connections' | 'traffic' | undefined;
  stopTimeoutMs: number;
  /**
   * What an idle timeout does (default 'stop'): 'pause' freezes the container (`docker pause`:
   * memory stays, CPU is freed) and the next connection unpauses it. Needs a provider that can pause.
   */
  idleAction?: 'stop' | 'pause' | undefined;
  /** With idleAction 'pause': a container paused this long is stopped; undefined: it stays paused. */
  stopAfterMs?: number | undefined;
  /** Start limit (systemd's StartLimitBurst=): this many failed starts within startLimitIntervalMs begin a back-off; 0 turns it off. */
  startLimitBurst?: number;
  startLimitIntervalMs?: number;
  /** The back-off starts at FIRST_BACKOFF_MS and doubles with each failed retry, up to this. */
  startBackoffMaxMs?: number;
  /** Other containers of a group (`container:` as a list): started and stopped with `container`, and one exiting takes the group down. */
  members?: string[];
  /** 'manage': a restart policy of always/unless-stopped is set to "no" when a start inspects the container. */
  restartPolicy?: 'manage' | 'keep';
  /** Services that must be ready before this one's container starts (ActivationDeps.dependencies waits for them). */
  dependsOn?: string[];
  /** Which requests may start the stopped service (`wake:`); undefined: any. */
  wake?: WakeSpec | undefined;
}

/**
 * What a service needs before its container starts (`names`: its dependsOn), wired by the daemon: resolves once
 * every dependency is ready, with a function that lets them go (called once this service has
 * stopped or its start failed). Rejects (DependencyFailedError) when one cannot start, having let
 * go of the others; with signal.reason when the start is abandoned.
 */
export type DependenciesHook = (names: readonly string[], signal: AbortSignal) => Promise<() => void>;

export interface ActivationDeps {
  provider: Provider;
  probes: Probes;
  clock: Clock;
  logger: Logger;
  emit: (event: DaemonEvent) => void;
  /** How dependsOn is waited for; without it, dependsOn is not looked at. */
  dependencies?: DependenciesHook;
}

/**
 * A start in flight. `stop`: a stop asked for meanwhile, which wins (the start is abandoned and the
 * container stopped). `started`: the start request's answer — true: this start ran the container,
 * false: it was running already; undefined while unanswered.
 */
export interface Starting {
  kind: 'starting';
  ready: Promise<void>;
  abort: AbortController;
  stop: StopReason | undefined;
  started: boolean | undefined;
}

/** `backoff`: after repeated failed starts, connections are refused without a start until `until`. */
export interface Failed {
  kind: 'failed';
  error: PortwakeError;
  backoff: { until: number; refused: number } | undefined;
}

export type StopReason = 'idle' | 'control' | 'shutdown' | 'start failed' | 'removed' | 'group member exited';

/**
 * An unpause in flight (the next connection after an idle pause), joined by every waiting
 * connection like a start. `stop`: a stop asked for meanwhile, which wins once the engine answered.
 */
export interface Unpausing {
  kind: 'unpausing';
  targets: Targets;
  ready: Promise<void>;
  stop: StopReason | undefined;
}

export type State =
  | { kind: 'stopped' }
  | Failed
  | Starting
  | { kind: 'ready'; targets: Targets }
  /** idleAction 'pause': the pause request in flight; `done` never rejects (a failed pause stops instead). */
  | { kind: 'pausing'; targets: Targets; done: Promise<void> }
  /** Frozen by the engine; the run, its address and its readiness are kept. */
  | { kind: 'paused'; targets: Targets; since: number }
  | Unpausing
  | { kind: 'stopping'; done: Promise<void> };
