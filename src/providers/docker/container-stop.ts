// POST /containers/{name}/stop?t=grace. Not running (HTTP 304) is success.

import type { DockerClient } from './client.ts';
import { engineCall, STOP_MARGIN_MS } from './deadlines.ts';
import { mapDockerError } from './errors.ts';

/**
 * Asks the engine to stop the container: its stop signal (SIGTERM unless the image says otherwise),
 * then SIGKILL after graceSeconds. Resolves once it has stopped; the request lasts up to the grace,
 * and is given up (EngineTimeoutError) STOP_MARGIN_MS after it.
 */
export function stopContainer(client: DockerClient, endpoint: string, container: string, graceSeconds: number, caller?: AbortSignal): Promise<void> {
  const t = Number.isFinite(graceSeconds) ? Math.max(0, Math.ceil(graceSeconds)) : 10;
  return engineCall(t * 1000 + STOP_MARGIN_MS, caller, (signal) => stopOnce(client, endpoint, container, t, signal));
}

async function stopOnce(client: DockerClient, endpoint: string, container: string, t: number, signal: AbortSignal): Promise<void> {
  try {
    const api = await client();
    signal.throwIfAborted();
    await api.call('POST', `/containers/${encodeURIComponent(container)}/stop`, { t: String(t) }, signal);
  } catch (err) {
    throw mapDockerError(err, { endpoint, operation: 'stop', container, signal });
  }
}
