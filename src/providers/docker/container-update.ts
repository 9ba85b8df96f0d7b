// POST /containers/{name}/update with {RestartPolicy: {Name: "no"}} (restartPolicy: manage).

import type { DockerClient } from './client.ts';
import { engineCall, INSPECT_TIMEOUT_MS } from './deadlines.ts';
import { mapDockerError } from './errors.ts';

/** Sets the container's restart policy to "no"; bounded like an inspect (a quick metadata change). */
export function disableRestart(client: DockerClient, endpoint: string, container: string, caller?: AbortSignal): Promise<void> {
  return engineCall(INSPECT_TIMEOUT_MS, caller, async (signal) => {
    try {
      const api = await client();
      signal.throwIfAborted();
      await api.call('POST', `/containers/${encodeURIComponent(container)}/update`, undefined, signal, { RestartPolicy: { Name: 'no' } });
    } catch (err) {
      throw mapDockerError(err, { endpoint, operation: 'update', container, signal });
    }
  });
}
