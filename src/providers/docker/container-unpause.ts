// POST /containers/{name}/unpause. Not paused is success (false): running or stopped, inspect tells.

import type { DockerClient } from './client.ts';
import { engineCall, PAUSE_TIMEOUT_MS } from './deadlines.ts';
import { EngineHttpError } from './engine-api.ts';
import { mapDockerError } from './errors.ts';

/**
 * Thaws a paused container. Resolves true, or false when it was not paused (the engine's "is not
 * paused", HTTP 500 on Docker 28, 409 on older ones) — it may be running or stopped. Bounded by the
 * caller's signal and at most PAUSE_TIMEOUT_MS.
 */
export function unpauseContainer(client: DockerClient, endpoint: string, container: string, caller?: AbortSignal): Promise<boolean> {
  return engineCall(PAUSE_TIMEOUT_MS, caller, (signal) => unpauseOnce(client, endpoint, container, signal));
}

async function unpauseOnce(client: DockerClient, endpoint: string, container: string, signal: AbortSignal): Promise<boolean> {
  try {
    const api = await client();
    signal.throwIfAborted();
    await api.call('POST', `/containers/${encodeURIComponent(container)}/unpause`, undefined, signal);
    return true;
  } catch (err) {
    if (err instanceof EngineHttpError && (err.statusCode === 409 || err.statusCode === 500) && /is not paused/i.test(err.engineMessage)) return false;
    throw mapDockerError(err, { endpoint, operation: 'unpause', container, signal });
  }
}
