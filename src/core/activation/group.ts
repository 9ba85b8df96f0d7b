// A service's containers when `container:` is a list (a group, as sablier's): the first takes the
// traffic and is probed for readiness; the others are started and stopped with it, all at once.

import { ContainerExitedError } from '../errors.ts';
import type { ContainerInfo, Provider } from '../provider.ts';
import type { ActivationSpec, Starting } from './types.ts';

/** Every container of the service, the one taking the traffic first. */
export function groupOf(spec: ActivationSpec): string[] {
  return [spec.container, ...(spec.members ?? [])];
}

/**
 * Starts every container of the group at once. Records in `st.started` as answers arrive (true once
 * any was started by this call, so that a failed start stops what it ran); waits for every answer
 * before rejecting with the first failure, so that no answer is left unseen.
 */
export async function startGroup(provider: Provider, spec: ActivationSpec, st: Starting, signal: AbortSignal): Promise<boolean> {
  const answers = await Promise.allSettled(groupOf(spec).map(async (c) => {
    const started = await provider.start(c, signal);
    st.started = st.started === true || started;
    return started;
  }));
  for (const a of answers) if (a.status === 'rejected') throw a.reason;
  return answers.some((a) => a.status === 'fulfilled' && a.value);
}

/** Inspects the members (not the first container); rejects with ContainerExitedError naming one that is not running. */
export async function inspectMembers(provider: Provider, spec: ActivationSpec, signal: AbortSignal): Promise<ContainerInfo[]> {
  const infos = await Promise.all((spec.members ?? []).map((m) => provider.inspect(m, signal)));
  const down = infos.find((i) => !i.running);
  if (down !== undefined) throw new ContainerExitedError(down.name, down.exitCode);
  return infos;
}

/** Stops every container of the group at once; rejects with the first failure once all have answered. */
export async function stopGroup(provider: Provider, spec: ActivationSpec, graceSeconds: number, signal: AbortSignal): Promise<void> {
  if (spec.members === undefined) return provider.stop(spec.container, graceSeconds, signal);
  const answers = await Promise.allSettled(groupOf(spec).map((c) => provider.stop(c, graceSeconds, signal)));
  for (const a of answers) if (a.status === 'rejected') throw a.reason;
}
