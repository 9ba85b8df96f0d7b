// One provider's dockerode client, created on first use: dockerode (with docker-modem, ssh2 and
// grpc) costs ~25 MiB of RSS and ~100 ms to load, which a daemon whose services are all stopped
// never needs. Only connect.ts imports dockerode at run time, and only through here.

import type Dockerode from 'dockerode';
import type { DockerTarget } from './docker-host.ts';

/**
 * Resolves to the client, loading dockerode on the first call. Rejects with
 * ProviderUnreachableError when dockerode refuses the options; the next call tries again.
 */
export type DockerClient = () => Promise<Dockerode>;

export function lazyDockerClient(target: DockerTarget): DockerClient {
  let client: Promise<Dockerode> | undefined;
  return () => {
    client ??= import('./connect.ts').then((m) => m.openDockerClient(target)).catch((err: unknown) => {
      client = undefined;
      throw err;
    });
    return client;
  };
}
