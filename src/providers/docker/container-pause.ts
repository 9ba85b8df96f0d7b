// POST /containers/{name}/pause and /unpause. Already in the asked state is success (false).

import type { DockerClient } from './client.ts';
import { engineCall, PAUSE_TIMEOUT_MS } from './deadlines.ts';
import { EngineHttpError } from './engine-api.ts';
import { mapDockerError } from './errors.ts';

/**
 * How the engine says the container is in that state already. The Engine API has no error codes:
 * its words are all there is. Pause: "is already paused" (409, Docker 20–28). Unpause: "is not
 * paused" (500 on Docker 28, 409 on older ones) — the container may be running or stopped.
 */
const ALREADY: Readonly<Record<'pause' | 'unpause', { statuses: readonly number[]; words: RegExp }>> = {
  pause: { statuses: [409], words: /already paused/i },
  unpause: { statuses: [409, 500], words: /is not paused/i },
};

/**
 * Freezes the container (its cgroup: memory and sockets stay, no CPU). Resolves true, or false when
 * it was paused already. Not running: ProviderError. Bounded by the caller's signal and at most
 * PAUSE_TIMEOUT_MS.
 */
export function pauseContainer(client: DockerClient, endpoint: string, container: string, caller?: AbortSignal): Promise<boolean> {
  return engineCall(PAUSE_TIMEOUT_MS, caller, (signal) => freezeOnce('pause', client, endpoint, container, signal));
}

/** Thaws a paused container. Resolves true, or false when it was not paused (inspect tells whether it runs). Bounded like pauseContainer. */
export function unpauseContainer(client: DockerClient, endpoint: string, container: string, caller?: AbortSignal): Promise<boolean> {
  return engineCall(PAUSE_TIMEOUT_MS, caller, (signal) => freezeOnce('unpause', client, endpoint, container, signal));
}

async function freezeOnce(action: 'pause' | 'unpause', client: DockerClient, endpoint: string, container: string, signal: AbortSignal): Promise<boolean> {
  try {
    const api = await client();
    signal.throwIfAborted();
    await api.call('POST', `/containers/${encodeURIComponent(container)}/${action}`, undefined, signal);
    return true;
  } catch (err) {
    const already = ALREADY[action];
    if (err instanceof EngineHttpError && already.statuses.includes(err.statusCode) && already.words.test(err.engineMessage)) return false;
    throw mapDockerError(err, { endpoint, operation: action, container, signal });
  }
}
