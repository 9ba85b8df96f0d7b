// POST /containers/{name}/pause. Already paused is success.

import type { DockerClient } from './client.ts';
import { engineCall, PAUSE_TIMEOUT_MS } from './deadlines.ts';
import { EngineHttpError } from './engine-api.ts';
import { mapDockerError } from './errors.ts';

/**
 * Freezes the container (its cgroup: memory and sockets stay, no CPU). Resolves true, or false when
 * it was paused already (the engine's 409 "is already paused"). Not running: ProviderError. Bounded
 * by the caller's signal and at most PAUSE_TIMEOUT_MS.
 */
export function pauseContainer(client: DockerClient, endpoint: string, container: string, caller?: AbortSignal): Promise<boolean> {
  return engineCall(PAUSE_TIMEOUT_MS, caller, (signal) => pauseOnce(client, endpoint, container, signal));
}

async function pauseOnce(client: DockerClient, endpoint: string, container: string, signal: AbortSignal): Promise<boolean> {
  try {
    const api = await client();
    signal.throwIfAborted();
    await api.call('POST', `/containers/${encodeURIComponent(container)}/pause`, undefined, signal);
    return true;
  } catch (err) {
    // The Engine API has no error codes: its words are all there is (Docker 20–28 say "is already paused").
    if (err instanceof EngineHttpError && err.statusCode === 409 && /already paused/i.test(err.engineMessage)) return false;
    throw mapDockerError(err, { endpoint, operation: 'pause', container, signal });
  }
}
