// Resync with the engine's truth: which container events call for a fresh look (an exit, a
// destroy, a pause or unpause someone else did), one inspection in flight per service, and what
// the inspection found — a service up, paused or down outside portwake. Also run after the events
// stream reconnects (an outage may have hidden events). Activation.resync adopts the verdict.

import type { Clock } from '../clock.ts';
import { deadline } from '../deadline.ts';
import { PortwakeError } from '../errors.ts';
import type { ContainerEvent, Provider } from '../provider.ts';
import type { ActivationSpec, State } from './types.ts';

/** How long an inspection outside a start (resync) may take. */
const QUERY_TIMEOUT_MS = 10_000;

/**
 * Whether an event for the service's container needs an inspection. An exit from before the
 * current run started (events lag: the previous run's die can arrive while the next start is in
 * flight) does not; nor does a pause or unpause that agrees with the state (portwake's own, or one
 * landing while its request is in flight, whose answer decides).
 */
export function needsResync(event: ContainerEvent, state: State['kind'], runStartedAt: number | undefined): boolean {
  switch (event.kind) {
    case 'pause':
      return state === 'ready';
    case 'unpause':
      return state === 'paused';
    case 'destroy':
      return true;
    case 'die':
    case 'stop':
      return runStartedAt !== undefined && event.time >= runStartedAt;
    default:
      return false;
  }
}

/**
 * One task in flight at a time: a caller during it shares the one run that follows it (a task
 * already under way may have been answered before what the caller saw happened).
 */
export class SingleFlight {
  private running: Promise<void> | undefined;
  private again: Promise<void> | undefined;

  run(task: () => Promise<void>): Promise<void> {
    if (this.running === undefined) {
      this.running = task().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    this.again ??= this.running.then(() => {
      this.again = undefined;
      return this.run(task);
    });
    return this.again;
  }
}

/** What the engine says of the service's run: `down` names the container that is not running. */
export interface RunTruth {
  running: boolean;
  paused: boolean;
  exitCode: number | undefined;
  down: string;
}

/**
 * Inspects the service's container (and a group's members: one that exited takes the group down),
 * within QUERY_TIMEOUT_MS. A container that is gone, or another run than `containerId`, is not
 * running. Rejects when the engine cannot answer.
 */
export async function inspectRun(provider: Provider, clock: Clock, spec: ActivationSpec, containerId: string | undefined): Promise<RunTruth> {
  const limit = deadline(clock, QUERY_TIMEOUT_MS);
  try {
    const info = await provider.inspect(spec.container, limit.signal);
    const truth: RunTruth = { running: info.running && (containerId === undefined || info.id === containerId), paused: info.status === 'paused', exitCode: info.exitCode, down: spec.container };
    for (const m of truth.running ? spec.members ?? [] : []) {
      const member = await provider.inspect(m, limit.signal).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      if (member?.running === true) continue;
      return { running: false, paused: truth.paused, exitCode: member?.exitCode, down: m };
    }
    return truth;
  } catch (err) {
    if (!isNotFound(err)) throw err;
    return { running: false, paused: false, exitCode: undefined, down: spec.container };
  } finally {
    limit.cancel();
  }
}

function isNotFound(err: unknown): boolean {
  return err instanceof PortwakeError && err.code === 'CONTAINER_NOT_FOUND';
}

/** What the activation does with an inspection's answer, in the state it was asked in. */
export type ResyncVerdict = 'none' | 'paused outside' | 'unpaused outside' | 'exited while starting' | 'group member down' | 'stopped outside';

export function resyncVerdict(state: 'ready' | 'starting' | 'paused', truth: RunTruth, grouped: boolean): ResyncVerdict {
  if (truth.running) {
    if (state === 'ready' && truth.paused) return 'paused outside';
    if (state === 'paused' && !truth.paused) return 'unpaused outside';
    return 'none';
  }
  if (state === 'starting') return 'exited while starting';
  return grouped ? 'group member down' : 'stopped outside';
}
