// POST /containers/{name}/stop?t=grace. Not running (HTTP 304) is success.

import type { DockerClient } from './client.ts';
import { mapDockerError } from './errors.ts';

/**
 * Asks the engine to stop the container: its stop signal (SIGTERM unless the image says otherwise),
 * then SIGKILL after graceSeconds. Resolves once it has stopped; the request lasts up to the grace.
 */
export async function stopContainer(client: DockerClient, endpoint: string, container: string, graceSeconds: number, signal?: AbortSignal): Promise<void> {
  try {
    const api = await client();
    signal?.throwIfAborted();
    const t = Number.isFinite(graceSeconds) ? Math.max(0, Math.ceil(graceSeconds)) : 10;
    await api.call('POST', `/containers/${encodeURIComponent(container)}/stop`, { t: String(t) }, signal);
  } catch (err) {
    throw mapDockerError(err, { endpoint, operation: 'stop', container, signal });
  }
}
