// The engine's side of a start: start the container, inspect it once, then wait until its app is
// ready. The lifecycle (lifecycle.ts) owns the states around it; this owns the calls.

import type { Deadline } from '../deadline.ts';
import { ContainerExitedError, ContainerPausedError, PortwakeError } from '../errors.ts';
import { canPause, type ContainerInfo } from '../provider.ts';
import { checkReadySpec, waitReady } from '../readiness.ts';
import { resolveTargets, type Targets } from '../upstream.ts';
import { inspectMembers, startGroup } from './group.ts';
import type { ActivationDeps, ActivationSpec, Starting } from './types.ts';

/**
 * Starts `spec.container` and resolves once it is ready, with where its bytes go, when the engine
 * confirmed it running (t1) and whether this start ran it (false: it was running already). Records the engine's answer in `st.started` as soon as it arrives, and
 * tells `seen` the container as inspected, then once it is confirmed running (before readiness). Bounded by `limit` (the
 * whole startTimeout) until readiness, which has its own deadline; cancelled by `st.abort`.
 */
export async function bringUp(
  spec: ActivationSpec,
  deps: ActivationDeps,
  st: Starting,
  limit: Deadline,
  t0: number,
  seen: { inspected(info: ContainerInfo): void; running(info: ContainerInfo): void; members?(infos: ContainerInfo[]): void },
): Promise<{ targets: Targets; t1: number; started: boolean }> {
  const { provider, probes, clock } = deps;
  const container = spec.container;
  const signal = AbortSignal.any([st.abort.signal, limit.signal]);
  // Start first (a running container answers "already started"), then one inspect: the
  // cold start's critical path has two engine round trips, not three. A stop does not cancel
  // the start request (that would not stop the engine's start, only hide its outcome): its
  // answer is awaited, then the container stopped.
  // A group's containers are started at once and its members inspected beside the first.
  const grouped = spec.members !== undefined && spec.members.length > 0;
  let started: boolean;
  if (grouped) {
    started = await startGroup(provider, spec, st, limit.signal);
  } else {
    try {
      started = await provider.start(container, limit.signal);
    } catch (err) {
      if (!(err instanceof ContainerPausedError) || !canPause(provider)) throw err;
      // Paused (by portwake before it restarted, or by someone else): thawed, it runs as it was.
      await provider.unpause(container, limit.signal);
      started = false;
    }
  }
  st.started = started;
  signal.throwIfAborted();
  let info: ContainerInfo;
  if (grouped) {
    const [first, members] = await Promise.all([provider.inspect(container, signal), inspectMembers(provider, spec, signal)]);
    info = first;
    seen.members?.(members);
  } else {
    info = await provider.inspect(container, signal);
  }
  seen.inspected(info);
  const specProblem = checkReadySpec(spec.ready, info);
  if (specProblem !== undefined) throw new PortwakeError('CONFIG_INVALID', specProblem);
  if (!info.running) throw new ContainerExitedError(container, info.exitCode);
  seen.running(info);
  const t1 = clock.now();
  const targets = resolveTargets(spec, info);
  limit.cancel(); // waitReady has its own deadline, for its own message
  await waitReady({
    spec: spec.ready,
    container,
    target: targets.probe,
    direct: targets.direct,
    provider,
    probes,
    clock,
    timeoutMs: Math.max(0, spec.startTimeoutMs - (t1 - t0)),
    budgetMs: spec.startTimeoutMs,
    signal: st.abort.signal,
  });
  return { targets, t1, started };
}
