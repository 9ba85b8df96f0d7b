// Builds the dockerode client from a DOCKER_HOST-style address. The caller injects the address
// (and TLS settings); nothing here falls back to a built-in socket path or to process.env.

import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { ProviderError, ProviderUnreachableError } from '../../core/errors.ts';

/** The conventional engine address, for the composition root to pass when nothing is configured. */
export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export interface DockerConnectOptions {
  /** `unix:///path/to/docker.sock` (or a bare absolute path), `tcp://host:port`. */
  host: string;
  /** Verify the engine's certificate (DOCKER_TLS_VERIFY). Turns TLS on for tcp://. */
  tlsVerify?: boolean;
  /** Directory with ca.pem, cert.pem, key.pem (DOCKER_CERT_PATH). Turns TLS on for tcp://. */
  certPath?: string;
}

export interface DockerConnection {
  docker: Dockerode;
  /** Human description of the endpoint, e.g. "unix:///var/run/docker.sock" or "tcp://h:2376 (TLS)". */
  endpoint: string;
}

/** Reads the Docker CLI's TLS variables from an environment record (the caller passes process.env). */
export function dockerTlsFromEnv(env: Record<string, string | undefined>): Pick<DockerConnectOptions, 'tlsVerify' | 'certPath'> {
  const verify = env['DOCKER_TLS_VERIFY'];
  const certPath = env['DOCKER_CERT_PATH'];
  return {
    ...(verify !== undefined && verify !== '' && verify !== '0' ? { tlsVerify: true } : {}),
    ...(certPath !== undefined && certPath !== '' ? { certPath } : {}),
  };
}

/**
 * Creates the client. Throws ProviderError for an address it cannot use and
 * ProviderUnreachableError when the TLS material cannot be read. Does not contact the engine.
 */
export function connectDocker(o: DockerConnectOptions): DockerConnection {
  // docker-modem merges its own reading of DOCKER_HOST/DOCKER_CERT_PATH under ours: every key it
  // could take from the environment is set explicitly so that only the injected address counts.
  const neutral = { host: undefined, port: undefined, socketPath: undefined, protocol: undefined, ca: undefined, cert: undefined, key: undefined, timeout: undefined, pathPrefix: '/' };
  const host = o.host.trim();
  if (host.startsWith('unix://') || host.startsWith('/')) {
    const socketPath = host.startsWith('unix://') ? host.slice('unix://'.length) : host;
    if (!socketPath.startsWith('/')) throw new ProviderError(`docker host "${o.host}": a unix socket needs an absolute path, e.g. unix:///var/run/docker.sock`);
    return { docker: newClient({ ...neutral, socketPath, protocol: 'http' }, o.host), endpoint: `unix://${socketPath}` };
  }
  if (host.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(`http://${host.slice('tcp://'.length)}`);
    } catch (err) {
      throw new ProviderError(`docker host "${o.host}" is not a valid tcp://host:port address`, { cause: err });
    }
    const tls = o.tlsVerify === true || o.certPath !== undefined;
    const port = url.port === '' ? (tls ? 2376 : 2375) : Number(url.port);
    const endpoint = `tcp://${url.host}${url.port === '' ? `:${port}` : ''}${tls ? ' (TLS)' : ''}`;
    const base = { ...neutral, host: url.hostname.replace(/^\[|\]$/g, ''), port };
    if (!tls) return { docker: newClient({ ...base, protocol: 'http' }, endpoint), endpoint };
    const agent = new HttpsAgent({ ...readTlsFiles(o.certPath, endpoint), rejectUnauthorized: o.tlsVerify === true, keepAlive: true });
    return { docker: newClient({ ...base, protocol: 'https', agent }, endpoint), endpoint };
  }
  throw new ProviderError(`docker host "${o.host}" is not supported: use unix:///path/to/docker.sock or tcp://host:port`);
}

function readTlsFiles(certPath: string | undefined, endpoint: string): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  if (certPath === undefined) return {};
  try {
    return {
      ca: readFileSync(join(certPath, 'ca.pem')),
      cert: readFileSync(join(certPath, 'cert.pem')),
      key: readFileSync(join(certPath, 'key.pem')),
    };
  } catch (err) {
    throw new ProviderUnreachableError(endpoint, { cause: err });
  }
}

function newClient(options: Dockerode.DockerOptions & { pathPrefix?: string; agent?: HttpsAgent }, endpoint: string): Dockerode {
  try {
    return new Dockerode(options);
  } catch (err) {
    // docker-modem reads DOCKER_CERT_PATH files itself when DOCKER_HOST is tcp://, even when unused.
    throw new ProviderUnreachableError(endpoint, { cause: err });
  }
}
