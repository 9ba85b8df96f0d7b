// Which concrete classes portwake runs with, and where the engine is: the one place the daemon and
// the CLI commands get them from. Small and light (the Docker client itself loads on first use), so
// that the short commands may import it.

import type { DiscoveryConfig } from '../config/types.ts';
import type { Provider } from '../core/provider.ts';
import type { LabelSource } from './discovery/label-source.ts';
import { createDockerLabelSource } from '../providers/docker/label-source.ts';
import { DEFAULT_DOCKER_HOST, dockerTlsFromEnv } from '../providers/docker/docker-host.ts';
import { createDockerProvider } from '../providers/docker/provider.ts';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The engine address: the configured one (the config's engine:, or --engine), else DOCKER_HOST,
 * else the default socket. The only place DOCKER_HOST is read.
 */
export function engineAddress(configured: string | undefined, env: Env): string {
  return configured ?? env['DOCKER_HOST'] ?? DEFAULT_DOCKER_HOST;
}

/** The container engine client for a config's engine (see engineAddress), with the environment's TLS variables. */
export function createProvider(config: { readonly engineHost?: string | undefined }, env: Env): Provider {
  return createDockerProvider({ host: engineAddress(config.engineHost, env), ...dockerTlsFromEnv(env) });
}

/** Discovery's view of the config's engine: containers with `<labelPrefix>.listen` matching every filter. */
export function createLabelSource(config: { readonly engineHost?: string | undefined; readonly discovery?: DiscoveryConfig | undefined }, env: Env): LabelSource {
  const d = config.discovery?.docker;
  // Kept in step with config/labels.ts's labelQuery (not imported: this module stays light).
  const query = [`${d?.labelPrefix ?? 'portwake'}.listen`, ...(d?.filter ?? [])];
  return createDockerLabelSource({ host: engineAddress(config.engineHost, env), ...dockerTlsFromEnv(env) }, query);
}
