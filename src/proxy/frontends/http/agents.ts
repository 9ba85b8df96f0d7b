// One keep-alive agent per upstream address: requests to a ready service reuse its idle
// connections. An agent whose upstream went away (a new container address after a restart) is
// dropped once it has no socket left.

import http from 'node:http';
import type { Endpoint } from '../../../core/provider.ts';
import { formatEndpoint } from '../../../core/upstream.ts';

/** Idle upstream connections kept per upstream. */
const MAX_FREE_SOCKETS = 256;

export class UpstreamAgents {
  readonly #agents = new Map<string, http.Agent>();

  get(upstream: Endpoint): http.Agent {
    const key = upstream.kind === 'unix' ? `unix:${upstream.path}` : formatEndpoint(upstream);
    let agent = this.#agents.get(key);
    if (agent === undefined) {
      this.#sweep();
      agent = new http.Agent({ keepAlive: true, maxFreeSockets: MAX_FREE_SOCKETS, scheduling: 'lifo' });
      this.#agents.set(key, agent);
    }
    return agent;
  }

  /** Drops agents with no socket in use or idle (their upstream is likely gone). */
  #sweep(): void {
    for (const [key, agent] of this.#agents) {
      const used = Object.values(agent.sockets).some((l) => l !== undefined && l.length > 0)
        || Object.values(agent.freeSockets).some((l) => l !== undefined && l.length > 0)
        || Object.values(agent.requests).some((l) => l !== undefined && l.length > 0);
      if (!used) {
        agent.destroy();
        this.#agents.delete(key);
      }
    }
  }

  destroy(): void {
    for (const agent of this.#agents.values()) agent.destroy();
    this.#agents.clear();
  }
}

/** The http.request options that reach an upstream. */
export function upstreamTarget(upstream: Endpoint): { socketPath: string } | { host: string; port: number } {
  return upstream.kind === 'unix' ? { socketPath: upstream.path } : { host: upstream.host, port: upstream.port };
}
