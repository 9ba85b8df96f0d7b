// POST /containers/{name}/start. Already running (HTTP 304) is success.

import { abortOption } from './abort-option.ts';
import type { DockerClient } from './client.ts';
import { mapDockerError } from './errors.ts';

/** Resolves once the engine reports the container started: true, or false when it already ran (304). */
export async function startContainer(client: DockerClient, endpoint: string, container: string, signal?: AbortSignal): Promise<boolean> {
  try {
    const docker = await client();
    signal?.throwIfAborted();
    await docker.getContainer(container).start(abortOption(signal));
    return true;
  } catch (err) {
    if ((err as { statusCode?: unknown }).statusCode === 304 && signal?.aborted !== true) return false;
    throw mapDockerError(err, { endpoint, operation: 'start', container, signal });
  }
}
