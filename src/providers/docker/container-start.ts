// POST /containers/{name}/start. Already running (HTTP 304) is success; paused is ContainerPausedError.

import { ContainerPausedError } from '../../core/errors.ts';
import type { DockerClient } from './client.ts';
import { engineCall, START_TIMEOUT_MS } from './deadlines.ts';
import { EngineHttpError } from './engine-api.ts';
import { mapDockerError } from './errors.ts';

/**
 * Resolves once the engine reports the container started: true, or false when it already ran (304).
 * A paused container rejects with ContainerPausedError (the engine's 409 "cannot start a paused
 * container"). Bounded by the caller's signal (the activation's startTimeout) and at most START_TIMEOUT_MS.
 */
export function startContainer(client: DockerClient, endpoint: string, container: string, caller?: AbortSignal): Promise<boolean> {
  return engineCall(START_TIMEOUT_MS, caller, (signal) => startOnce(client, endpoint, container, signal));
}

async function startOnce(client: DockerClient, endpoint: string, container: string, signal: AbortSignal): Promise<boolean> {
  try {
    const api = await client();
    signal.throwIfAborted();
    const { status } = await api.call('POST', `/containers/${encodeURIComponent(container)}/start`, undefined, signal);
    return status !== 304;
  } catch (err) {
    if (err instanceof EngineHttpError && err.statusCode === 409 && /paused/i.test(err.engineMessage) && !signal.aborted) throw new ContainerPausedError(container, { cause: err });
    throw mapDockerError(err, { endpoint, operation: 'start', container, signal });
  }
}
