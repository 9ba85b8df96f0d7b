// The daemon's HTTP Host router (top-level `http:`): built from the config, its routes naming
// services that the daemon runs (their activations are the backends, looked up per request so
// that a reload's services serve at once), rebuilt on reload with unchanged listeners kept open.

import type { Clock } from '../core/clock.ts';
import { describe } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { HttpConfig, PortwakeConfig, ServiceConfig } from '../config/types.ts';
import type { ListenTarget } from '../proxy/accept/listen.ts';
import { HttpFrontend, type HttpService, type HttpServiceStats } from '../proxy/frontends/http/frontend.ts';
import { Router } from '../proxy/frontends/http/router.ts';
import { listenKey } from './reload-plan.ts';
import { frontendLimits, type RunningService } from './service.ts';

/** The name the router's systemd sockets are claimed under (not a valid service name, so never a service's). */
export const HTTP_FD_OWNER = '(http)';

export interface HttpRoutingDeps {
  logger: Logger;
  clock: Clock;
  /** The daemon's running services, by name (read per request). */
  services: () => ReadonlyMap<string, RunningService>;
}

export function buildRouter(config: PortwakeConfig): Router<string> {
  const routed = config.services.filter((s): s is ServiceConfig & { hosts: NonNullable<ServiceConfig['hosts']> } => s.hosts !== undefined);
  return new Router(routed.map((s) => ({ hosts: s.hosts, paths: s.paths ?? ['/'], target: s.name })), config.http?.defaultService);
}

function httpService(u: RunningService): HttpService {
  return {
    backend: u.activation,
    strategy: u.config.strategy ?? 'page',
    maxConnections: u.config.maxConnections,
    maxPending: u.config.maxPending,
    holdTimeoutMs: frontendLimits(u.config).holdTimeoutMs,
  };
}

export class HttpRouting {
  #frontend: HttpFrontend;
  /** listenKey → listener text, of what the router listens on (systemd sockets as passed). */
  #keys = new Map<string, string>();

  private constructor(private readonly deps: HttpRoutingDeps, frontend: HttpFrontend) {
    this.#frontend = frontend;
  }

  /** Binds `http.listen` (plus systemd sockets passed for it) and serves; throws LISTEN_FAILED having closed what it bound. */
  static async start(config: PortwakeConfig & { http: HttpConfig }, fds: ReadonlyArray<{ target: ListenTarget; key: string }>, deps: HttpRoutingDeps): Promise<HttpRouting> {
    const listen: ListenTarget[] = fds.map((f) => f.target);
    for (const l of config.http.listen) if (l.kind !== 'systemd') listen.push(l);
    const frontend = new HttpFrontend({
      listen,
      router: buildRouter(config),
      service: (name) => {
        const u = deps.services().get(name);
        return u === undefined ? undefined : httpService(u);
      },
      trustForwarded: config.http.trustForwarded,
      forwardedHeaders: config.http.forwardedHeaders,
      logger: deps.logger,
      clock: deps.clock,
    });
    await frontend.listen();
    const routing = new HttpRouting(deps, frontend);
    for (const f of fds) routing.#keys.set(f.key, f.target.text);
    for (const l of config.http.listen) if (l.kind !== 'systemd') routing.#keys.set(listenKey(l), l.text);
    return routing;
  }

  get listeners(): string[] {
    return this.#frontend.listeners;
  }

  get frontend(): HttpFrontend {
    return this.#frontend;
  }

  stats(service: string): HttpServiceStats {
    return this.#frontend.stats(service);
  }

  /**
   * A reload: the routes and forwarding settings of `next` apply to the requests from now on;
   * listeners of addresses still configured stay open (no connection refused), new ones are
   * bound, dropped ones closed. A new address that cannot be bound is logged and skipped.
   * (systemd sockets are kept as passed: they cannot be re-bound by a reload.)
   */
  async apply(next: PortwakeConfig & { http: HttpConfig }): Promise<void> {
    this.#frontend.update(buildRouter(next), next.http.trustForwarded, next.http.forwardedHeaders);
    const wanted = new Map(next.http.listen.filter((l) => l.kind !== 'systemd').map((l) => [listenKey(l), l] as const));
    const gone = [...this.#keys].filter(([key]) => !wanted.has(key) && !key.startsWith('systemd'));
    for (const [key] of gone) this.#keys.delete(key);
    const texts = new Set(gone.map(([, text]) => text));
    await this.#frontend.unbind((text) => texts.has(text));
    for (const [key, spec] of wanted) {
      if (this.#keys.has(key)) continue;
      try {
        await this.#frontend.bind([spec]);
        this.#keys.set(key, spec.text);
      } catch (err) {
        this.deps.logger.error({ listener: spec.text, err: describe(err) }, `reload: the HTTP router cannot listen on ${spec.text}: ${describe(err)}; not listening there until the next reload or restart`);
      }
    }
  }

  close(graceMs: number): Promise<void> {
    return this.#frontend.close({ graceMs });
  }
}
