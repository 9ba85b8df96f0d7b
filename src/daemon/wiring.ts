// Which concrete classes portwake runs with, and where the engine is: the one place the daemon and
// the CLI commands get them from. Small and light (the Docker client itself loads on first use), so
// that the short commands may import it.

import type { Logger } from '../core/logger.ts';
import type { Provider } from '../core/provider.ts';
import type { ServiceConfig } from '../config/types.ts';
import { CommandProvider } from '../providers/command/provider.ts';
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

/** `docker`: the Docker provider, made on first use (a config of command services alone needs none). */
export function createServiceProviders(o: { docker: () => Provider; logger: Logger; env: Env }): ServiceProviders {
  let docker: Provider | undefined;
  let command: CommandProvider | undefined;
  return {
    providerFor(s) {
      if (s.command === undefined || s.upstream === undefined) return (docker ??= o.docker());
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
