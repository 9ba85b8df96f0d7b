// Which concrete classes portwake runs with, and where the engine is: the one place the daemon and
// the CLI commands get them from. Small and light (the Docker client itself loads on first use), so
// that the short commands may import it.

import { DEFAULT_ENGINE } from '../config/engines.ts';
import type { EngineConfig } from '../config/types.ts';
import type { Provider } from '../core/provider.ts';
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

/**
 * One provider per engine, keyed by engine name: "default" (createProvider) and each of engines:
 * (its own address and TLS files; the environment's TLS variables apply to the default only).
 * Each is independent: its own client, its own events stream in the daemon. Where discovery
 * will run per engine too.
 */
export function createProviders(config: { readonly engineHost?: string | undefined; readonly engines?: readonly EngineConfig[] | undefined }, env: Env): Map<string, Provider> {
  const providers = new Map<string, Provider>([[DEFAULT_ENGINE, createProvider(config, env)]]);
  for (const e of config.engines ?? []) {
    providers.set(e.name, createDockerProvider({ host: e.host, ...(e.tls === undefined ? {} : { tlsFiles: e.tls }) }));
  }
  return providers;
}
