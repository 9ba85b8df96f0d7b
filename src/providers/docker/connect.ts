// Builds the dockerode client for a resolved engine address. The only module that imports
// dockerode at run time: the provider loads it on first use (importing dockerode costs ~25 MiB
// of RSS and ~100 ms), so a daemon whose services are all stopped never pays for it.

import { Agent as HttpsAgent } from 'node:https';
import Dockerode from 'dockerode';
import { ProviderUnreachableError } from '../../core/errors.ts';
import { resolveDockerHost, type DockerConnectOptions, type DockerTarget } from './docker-host.ts';

export interface DockerConnection {
  docker: Dockerode;
  /** Human description of the endpoint, e.g. "unix:///var/run/docker.sock" or "tcp://h:2376 (TLS)". */
  endpoint: string;
}

/**
 * Resolves the address and creates the client. Throws ProviderError for an address it cannot use
 * and ProviderUnreachableError when the TLS material cannot be read. Does not contact the engine.
 */
export function connectDocker(o: DockerConnectOptions): DockerConnection {
  const target = resolveDockerHost(o);
  return { docker: openDockerClient(target), endpoint: target.endpoint };
}

/** Creates the client for a resolved address; throws ProviderUnreachableError when dockerode refuses. */
export function openDockerClient(target: DockerTarget): Dockerode {
  // docker-modem merges its own reading of DOCKER_HOST/DOCKER_CERT_PATH under ours: every key it
  // could take from the environment is set explicitly so that only the injected address counts.
  const neutral = { host: undefined, port: undefined, socketPath: undefined, protocol: undefined, ca: undefined, cert: undefined, key: undefined, timeout: undefined, pathPrefix: '/' };
  if (target.kind === 'unix') return newClient({ ...neutral, socketPath: target.socketPath, protocol: 'http' }, target.endpoint);
  const base = { ...neutral, host: target.host, port: target.port };
  if (target.tls === undefined) return newClient({ ...base, protocol: 'http' }, target.endpoint);
  const agent = new HttpsAgent({ ...target.tls, keepAlive: true });
  return newClient({ ...base, protocol: 'https', agent }, target.endpoint);
}

function newClient(options: Dockerode.DockerOptions & { pathPrefix?: string; agent?: HttpsAgent }, endpoint: string): Dockerode {
  try {
    return new Dockerode(options);
  } catch (err) {
    // docker-modem reads DOCKER_CERT_PATH files itself when DOCKER_HOST is tcp://, even when unused.
    throw new ProviderUnreachableError(endpoint, { cause: err });
  }
}
