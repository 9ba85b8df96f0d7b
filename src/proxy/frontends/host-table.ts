// Which service answers a host name on a shared listener (HTTP Host routing, TLS SNI routing):
// exact names first, then the one-level wildcard of the name's parent. One lookup is two map reads.

import { normalizeHost, type HostPattern } from '../../config/hosts.ts';

export class HostTable<T> {
  readonly #exact = new Map<string, T>();
  readonly #wildcard = new Map<string, T>();

  /** Adds a service's patterns; returns the pattern text already taken by another entry, if any. */
  add(patterns: readonly HostPattern[], value: T): string | undefined {
    for (const p of patterns) {
      const [map, key, text] = p.kind === 'exact' ? [this.#exact, p.name, p.name] : [this.#wildcard, p.suffix, `*.${p.suffix}`];
      if (map.has(key) && map.get(key) !== value) return text;
    }
    for (const p of patterns) {
      if (p.kind === 'exact') this.#exact.set(p.name, value);
      else this.#wildcard.set(p.suffix, value);
    }
    return undefined;
  }

  /** The entry for a Host header or SNI name (any case, with or without a port); undefined: none. */
  lookup(host: string): T | undefined {
    const name = normalizeHost(host);
    const exact = this.#exact.get(name);
    if (exact !== undefined) return exact;
    const dot = name.indexOf('.');
    return dot < 0 ? undefined : this.#wildcard.get(name.slice(dot + 1));
  }
}
