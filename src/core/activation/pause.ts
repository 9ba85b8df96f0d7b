// The engine's side of idleAction: pause — the pause request and the unpause request, each with
// its deadline. The lifecycle (lifecycle.ts) owns the states around them (pausing, paused, unpausing).

import type { Clock } from '../clock.ts';
import { withDeadline } from '../deadline.ts';
import { describe, EngineTimeoutError } from '../errors.ts';
import { canPause, type Provider } from '../provider.ts';

/** How long a pause request may take (the engine freezes a cgroup: milliseconds when it is well). */
export const PAUSE_TIMEOUT_MS = 30_000;

/** Pauses `container` within PAUSE_TIMEOUT_MS; rejects when the provider cannot pause or the engine refuses. */
export function pauseContainer(provider: Provider, clock: Clock, container: string): Promise<void> {
  return withDeadline(clock, PAUSE_TIMEOUT_MS, undefined, async (signal) => {
    if (!canPause(provider)) throw new Error('the provider cannot pause');
    await provider.pause(container, signal);
  });
}

/**
 * What an unpause request came to: thawed, or why not — `hung` when the engine did not answer
 * within `timeoutMs` (the service's startTimeout). Never rejects.
 */
export type UnpauseOutcome = { thawed: true } | { thawed: false; why: string; hung: EngineTimeoutError | undefined };

export async function unpauseContainer(provider: Provider, clock: Clock, container: string, timeoutMs: number): Promise<UnpauseOutcome> {
  try {
    const thawed = await withDeadline(clock, timeoutMs, undefined, async (signal) => canPause(provider) && (await provider.unpause(container, signal)));
    return thawed ? { thawed } : { thawed, why: 'it was not paused', hung: undefined };
  } catch (err) {
    return { thawed: false, why: describe(err), hung: err instanceof EngineTimeoutError ? err : undefined };
  }
}
