// POST /containers/{name}/start. Already running (HTTP 304) is success.

import type { DockerClient } from './client.ts';
import { mapDockerError } from './errors.ts';

/** Resolves once the engine reports the container started: true, or false when it already ran (304). */
export async function startContainer(client: DockerClient, endpoint: string, container: string, signal?: AbortSignal): Promise<boolean> {
  try {
    const api = await client();
    signal?.throwIfAborted();
    const { status } = await api.call('POST', `/containers/${encodeURIComponent(container)}/start`, undefined, signal);
    return status !== 304;
  } catch (err) {
    throw mapDockerError(err, { endpoint, operation: 'start', container, signal });
  }
}
