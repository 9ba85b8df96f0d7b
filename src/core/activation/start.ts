// A start as the activation runs it: the dependencies (dependsOn) ready first, then the engine's
// bring-up (bring-up.ts), all within startTimeout; and the report once the service is ready (a
// start's or an unpause's log line and 'activated' event), after the held connections went on.

import { deadline } from '../deadline.ts';
import type { Logger } from '../logger.ts';
import type { ContainerInfo } from '../provider.ts';
import type { StartTimings } from '../status.ts';
import type { Targets } from '../upstream.ts';
import { bringUp } from './bring-up.ts';
import type { HeldDependencies } from './dependencies.ts';
import type { ActivationDeps, ActivationSpec, Starting } from './types.ts';

/** What the engine's side of a start tells the activation as it goes (see bringUp). */
export interface StartSeen {
  inspected(info: ContainerInfo): void;
  running(info: ContainerInfo): void;
  members?(infos: ContainerInfo[]): void;
}

/**
 * Runs the start `st` begun at `t0`: resolves once the service is ready, with where its bytes go,
 * when the engine confirmed it running (t1) and whether this start ran it. Rejects with what went
 * wrong; the caller decides what a failure means (Lifecycle.startFailed), reading st.abort for a
 * stop or dispose that cancelled it.
 */
export async function runStart(spec: ActivationSpec, deps: ActivationDeps, st: Starting, dependencies: HeldDependencies, t0: number, seen: StartSeen): Promise<{ targets: Targets; t1: number; started: boolean }> {
  // The whole start, engine calls included, is bounded by startTimeout (a hung engine answers nothing).
  const limit = deadline(deps.clock, spec.startTimeoutMs);
  try {
    // dependsOn: every dependency ready first, within this service's own startTimeout.
    if (await dependencies.acquire(spec.dependsOn, AbortSignal.any([st.abort.signal, limit.signal]))) st.abort.signal.throwIfAborted();
    const up = await bringUp(spec, deps, st, limit, t0, seen);
    st.abort.signal.throwIfAborted();
    return up;
  } catch (err) {
    limit.cancel();
    throw err;
  }
}

/**
 * The log line and the 'activated' event of a service that became ready (`readyAt`), on the next
 * turn: the held connections go on first (they resume when the caller returns), so formatting and
 * writing them is not on the first byte's path. (setImmediate, not the injected clock: this orders
 * work within the event loop, it waits for no time; on a manual clock the line would wait for a
 * test to advance time.)
 */
export function reportReady(log: Logger, emit: ActivationDeps['emit'], service: string, timings: StartTimings, readyAt: number, line: () => [fields: object, message: string]): void {
  setImmediate(() => {
    log.info(...line());
    emit({ type: 'activated', service, timings, firstWaitMs: readyAt - timings.at, at: readyAt });
  });
}
