// POST /containers/{name}/start. Already running (HTTP 304) is success.

import type Dockerode from 'dockerode';
import { abortOption } from './abort-option.ts';
import { mapDockerError } from './errors.ts';

/** Resolves once the engine reports the container started: true, or false when it already ran (304). */
export async function startContainer(docker: Dockerode, endpoint: string, container: string, signal?: AbortSignal): Promise<boolean> {
  try {
    signal?.throwIfAborted();
    await docker.getContainer(container).start(abortOption(signal));
    return true;
  } catch (err) {
    if ((err as { statusCode?: unknown }).statusCode === 304 && signal?.aborted !== true) return false;
    throw mapDockerError(err, { endpoint, operation: 'start', container, signal });
  }
}
