// The Docker provider: the core's Provider contract over the Engine API, one operation per file.
// The HTTP client is made on the first engine call (client.ts), not when the provider is made.

import type { ContainerEvent, ContainerInfo, Provider } from '../../core/provider.ts';
import { lazyDockerClient } from './client.ts';
import { inspectContainer } from './container-inspect.ts';
import { pauseContainer, unpauseContainer } from './container-pause.ts';
import { startContainer } from './container-start.ts';
import { stopContainer } from './container-stop.ts';
import { disableRestart } from './container-update.ts';
import { resolveDockerHost, type DockerConnectOptions } from './docker-host.ts';
import { engineCall, PING_TIMEOUT_MS } from './deadlines.ts';
import { mapDockerError } from './errors.ts';
import { containerEvents } from './events.ts';

export type DockerProviderOptions = DockerConnectOptions;

/**
 * Creates the provider for one engine. Throws ProviderError for an unusable address and
 * ProviderUnreachableError for unreadable TLS files; does not contact the engine (call ping()) nor
 * load the HTTP client, which the first call does.
 */
export function createDockerProvider(options: DockerProviderOptions): Provider {
  const target = resolveDockerHost(options);
  const { endpoint } = target;
  const client = lazyDockerClient(target);
  const provider = {
    endpoint,
    inspect: (container: string, signal?: AbortSignal): Promise<ContainerInfo> => inspectContainer(client, endpoint, container, signal),
    start: (container: string, signal?: AbortSignal): Promise<boolean> => startContainer(client, endpoint, container, signal),
    stop: (container: string, graceSeconds: number, signal?: AbortSignal): Promise<void> =>
      stopContainer(client, endpoint, container, graceSeconds, signal),
    disableRestart: (container: string, signal?: AbortSignal): Promise<void> => disableRestart(client, endpoint, container, signal),
    pause: (container: string, signal?: AbortSignal): Promise<boolean> => pauseContainer(client, endpoint, container, signal),
    unpause: (container: string, signal?: AbortSignal): Promise<boolean> => unpauseContainer(client, endpoint, container, signal),
    events: (signal: AbortSignal): AsyncIterable<ContainerEvent> => containerEvents(client, endpoint, signal),
    ping: (caller?: AbortSignal): Promise<void> =>
      engineCall(PING_TIMEOUT_MS, caller, async (signal) => {
        try {
          const api = await client();
          signal.throwIfAborted();
          await api.call('GET', '/_ping', undefined, signal);
        } catch (err) {
          throw mapDockerError(err, { endpoint, operation: 'ping', signal });
        }
      }),
  } satisfies Provider;
  return provider;
}
