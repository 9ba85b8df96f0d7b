// A DOCKER_HOST-style address (and the CLI's TLS variables) → where and how to reach the engine.
// Pure and free of the HTTP client, so that the daemon can validate its engine address at start-up
// without loading it; engine-api.ts turns the result into requests.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
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
  /** TLS files named one by one (an engine of engines:); takes the place of certPath and tlsVerify. Turns TLS on for tcp://. */
  tlsFiles?: { ca?: string; cert?: string; key?: string; verify: boolean };
}

/** Where the engine listens, resolved and validated; the TLS material already read. */
export type DockerTarget = {
  /** Human description of the endpoint, e.g. "unix:///var/run/docker.sock" or "tcp://h:2376 (TLS)". */
  endpoint: string;
} & (
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number; tls: undefined | { ca?: Buffer; cert?: Buffer; key?: Buffer; rejectUnauthorized: boolean } }
);

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
 * Resolves the address. Throws ProviderError for an address it cannot use and
 * ProviderUnreachableError when the TLS material cannot be read. Does not contact the engine.
 */
export function resolveDockerHost(o: DockerConnectOptions): DockerTarget {
  const host = o.host.trim();
  if (host.startsWith('unix://') || host.startsWith('/')) {
    const socketPath = host.startsWith('unix://') ? host.slice('unix://'.length) : host;
    if (!socketPath.startsWith('/')) throw new ProviderError(`docker host "${o.host}": a unix socket needs an absolute path, e.g. unix:///var/run/docker.sock`);
    return { kind: 'unix', socketPath, endpoint: `unix://${socketPath}` };
  }
  if (host.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(`http://${host.slice('tcp://'.length)}`);
    } catch (err) {
      throw new ProviderError(`docker host "${o.host}" is not a valid tcp://host:port address`, { cause: err });
    }
    const tls = o.tlsVerify === true || o.certPath !== undefined || o.tlsFiles !== undefined;
    const port = url.port === '' ? (tls ? 2376 : 2375) : Number(url.port);
    const endpoint = `tcp://${url.host}${url.port === '' ? `:${port}` : ''}${tls ? ' (TLS)' : ''}`;
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    if (!tls) return { kind: 'tcp', host: hostname, port, tls: undefined, endpoint };
    if (o.tlsFiles !== undefined) return { kind: 'tcp', host: hostname, port, tls: { ...readNamedTlsFiles(o.tlsFiles, endpoint), rejectUnauthorized: o.tlsFiles.verify }, endpoint };
    return { kind: 'tcp', host: hostname, port, tls: { ...readTlsFiles(o.certPath, endpoint), rejectUnauthorized: o.tlsVerify === true }, endpoint };
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

function readNamedTlsFiles(files: { ca?: string; cert?: string; key?: string }, endpoint: string): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  const out: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  for (const which of ['ca', 'cert', 'key'] as const) {
    const path = files[which];
    if (path === undefined) continue;
    try {
      out[which] = readFileSync(path);
    } catch (err) {
      throw new ProviderUnreachableError(endpoint, { cause: new Error(`cannot read the TLS ${which} file ${path}: ${(err as Error).message}`, { cause: err }) });
    }
  }
  return out;
}
