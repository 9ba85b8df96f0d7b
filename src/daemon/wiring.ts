// Which concrete classes portwake runs with, and where the engine is: the one place the daemon and
// the CLI commands get them from. Small and light (the Docker client itself loads on first use), so
// that the short commands may import it.

import { DEFAULT_ENGINE } from '../config/engines.ts';
import type { DiscoveryConfig, EngineConfig, ServiceConfig } from '../config/types.ts';
import type { Logger } from '../core/logger.ts';
import type { Provider } from '../core/provider.ts';
import { CommandProvider } from '../providers/command/provider.ts';
import type { LabelSource } from './discovery/label-source.ts';
import { createDockerLabelSource } from '../providers/docker/label-source.ts';
import { DEFAULT_DOCKER_HOST, dockerTlsFromEnv, type DockerConnectOptions } from '../providers/docker/docker-host.ts';
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
  return createDockerProvider(defaultConnection(config, env));
}

function defaultConnection(config: { readonly engineHost?: string | undefined }, env: Env): DockerConnectOptions {
  return { host: engineAddress(config.engineHost, env), ...dockerTlsFromEnv(env) };
}

/** Each service's provider: Docker's (the default), or the command provider for `provider: command`. */
export interface ServiceProviders {
  /**
   * The provider that runs this service. A command service is registered with the command
   * provider on the way (again on a reload: a process already running keeps its command).
   */
  providerFor(service: ServiceConfig): Provider;
  /** Stops every run: process of the command provider (none outlives portwake); containers are left alone. */
  close(): Promise<void>;
}

/**
 * `docker`: the provider of an engine by name ("default" or a key of engines:), asked on first use
 * (a config of command services alone needs none); an unknown name is a config error caught earlier.
 */
export function createServiceProviders(o: { docker: (engine: string) => Provider | undefined; logger: Logger; env: Env }): ServiceProviders {
  const engines = new Map<string, Provider>();
  let command: CommandProvider | undefined;
  const docker = (name: string): Provider => {
    let p = engines.get(name);
    if (p === undefined) {
      p = o.docker(name);
      if (p === undefined) throw new Error(`engine "${name}" is not defined (a config rule should have caught this)`);
      engines.set(name, p);
    }
    return p;
  };
  return {
    providerFor(s) {
      if (s.command === undefined || s.upstream === undefined) return docker(s.engine ?? DEFAULT_ENGINE);
      command ??= new CommandProvider({ logger: o.logger, env: o.env });
      command.set({
        name: s.name,
        command: s.command,
        upstream: s.upstream,
        listen: s.listen.map((l) => l.text),
        stopTimeoutMs: s.stopTimeoutMs,
      });
      return command;
    },
    close: () => command?.close() ?? Promise.resolve(),
  };
}

/**
 * One provider per engine, keyed by engine name: "default" (createProvider) and each of engines:
 * (its own address and TLS files; the environment's TLS variables apply to the default only).
 * Each is independent: its own client, its own events stream in the daemon. Where discovery
 * will run per engine too.
 */
export function createProviders(config: EnginesConfig, env: Env): Map<string, Provider> {
  return new Map([...engineConnections(config, env)].map(([name, options]) => [name, createDockerProvider(options)]));
}

/** Where the config's engines are: "default" (see engineAddress, with the environment's TLS variables) and each of engines: (its own TLS files). */
function engineConnections(config: EnginesConfig, env: Env): Map<string, DockerConnectOptions> {
  const engines = new Map<string, DockerConnectOptions>([[DEFAULT_ENGINE, defaultConnection(config, env)]]);
  for (const e of config.engines ?? []) engines.set(e.name, { host: e.host, ...(e.tls === undefined ? {} : { tlsFiles: e.tls }) });
  return engines;
}

type EnginesConfig = { readonly engineHost?: string | undefined; readonly engines?: readonly EngineConfig[] | undefined };

/**
 * Discovery's view of each engine, keyed like createProviders: the containers matching every
 * filter of discovery.docker.filter. Discovery runs on every engine.
 */
export function createLabelSources(config: EnginesConfig & { readonly discovery?: DiscoveryConfig | undefined }, env: Env): Map<string, LabelSource> {
  // The engine filters by the user's labels; which containers carry a label under the prefix is
  // decided by discovery (an engine cannot filter on a label's prefix).
  const filter = config.discovery?.docker.filter ?? [];
  return new Map([...engineConnections(config, env)].map(([name, options]) => [name, createDockerLabelSource(options, filter)]));
}

/** The services of one provider, and the engine's name when it is an engine (not the command provider). */
export interface ProviderGroup {
  engine: string | undefined;
  services: ServiceConfig[];
}

/** The services grouped by the provider that runs them, in config order: what the checks go through, one engine at a time. */
export function servicesByProvider(services: readonly ServiceConfig[], providers: ServiceProviders): Map<Provider, ProviderGroup> {
  const groups = new Map<Provider, ProviderGroup>();
  for (const s of services) {
    const provider = providers.providerFor(s);
    const group = groups.get(provider) ?? { engine: s.command === undefined ? s.engine ?? DEFAULT_ENGINE : undefined, services: [] };
    group.services.push(s);
    groups.set(provider, group);
  }
  return groups;
}
