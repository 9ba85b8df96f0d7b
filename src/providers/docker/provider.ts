// The Docker provider: the core's Provider contract over dockerode, one operation per file.

import type { ContainerEvent, ContainerInfo, Provider } from '../../core/provider.ts';
import { abortOption } from './abort-option.ts';
import { connectDocker, type DockerConnectOptions } from './connect.ts';
import { inspectContainer } from './container-inspect.ts';
import { startContainer } from './container-start.ts';
import { stopContainer } from './container-stop.ts';
import { mapDockerError } from './errors.ts';
import { containerEvents } from './events.ts';

export type DockerProviderOptions = DockerConnectOptions;

/**
 * Creates the provider for one engine. Throws ProviderError for an unusable address and
 * ProviderUnreachableError for unreadable TLS files; does not contact the engine (call ping()).
 */
export function createDockerProvider(options: DockerProviderOptions): Provider {
  const { docker, endpoint } = connectDocker(options);
  const provider = {
    endpoint,
    inspect: (container: string, signal?: AbortSignal): Promise<ContainerInfo> => inspectContainer(docker, endpoint, container, signal),
    start: (container: string, signal?: AbortSignal): Promise<boolean> => startContainer(docker, endpoint, container, signal),
    stop: (container: string, graceSeconds: number, signal?: AbortSignal): Promise<void> =>
      stopContainer(docker, endpoint, container, graceSeconds, signal),
    events: (signal: AbortSignal): AsyncIterable<ContainerEvent> => containerEvents(docker, endpoint, signal),
    async ping(signal?: AbortSignal): Promise<void> {
      try {
        signal?.throwIfAborted();
        // @types/dockerode omits ping's options; dockerode 5 honours abortSignal there too.
        await (docker.ping as (opts: object) => Promise<unknown>).call(docker, abortOption(signal));
      } catch (err) {
        throw mapDockerError(err, { endpoint, operation: 'ping', signal });
      }
    },
  } satisfies Provider;
  return provider;
}
