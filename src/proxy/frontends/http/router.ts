// Which service answers an HTTP request: its Host (exact name, then one-level wildcard: HostTable),
// then the longest `paths:` prefix of that host that the request path starts with, by whole segments
// ("/api" takes "/api", "/api/x" and "/api?q", not "/apix"). Built whole from the config; a reload
// builds a new one.

import type { HostPattern } from '../../../config/hosts.ts';
import { HostTable } from '../host-table.ts';

export interface RouteSpec<T> {
  hosts: readonly HostPattern[];
  /** Path prefixes without a trailing "/" ("/" for every path). */
  paths: readonly string[];
  target: T;
}

/** One host's prefixes, longest first. */
type Prefixes<T> = Array<{ prefix: string; target: T }>;

export class Router<T> {
  readonly #hosts = new HostTable<Prefixes<T>>();
  readonly #fallback: T | undefined;

  /** Two specs claiming one host and prefix: the first keeps it (the config rules reject that before). */
  constructor(specs: ReadonlyArray<RouteSpec<T>>, fallback?: T) {
    this.#fallback = fallback;
    const byPattern = new Map<string, { pattern: HostPattern; prefixes: Prefixes<T> }>();
    for (const spec of specs) {
      for (const pattern of spec.hosts) {
        const key = pattern.kind === 'exact' ? pattern.name : `*.${pattern.suffix}`;
        const entry = byPattern.get(key) ?? { pattern, prefixes: [] };
        byPattern.set(key, entry);
        for (const prefix of spec.paths) {
          if (!entry.prefixes.some((p) => p.prefix === prefix)) entry.prefixes.push({ prefix, target: spec.target });
        }
      }
    }
    for (const { pattern, prefixes } of byPattern.values()) {
      prefixes.sort((a, b) => b.prefix.length - a.prefix.length);
      this.#hosts.add([pattern], prefixes);
    }
  }

  /** The target for a Host header (any case, with or without a port) and a request target ("/a/b?q"). */
  lookup(host: string | undefined, url: string | undefined): T | undefined {
    const prefixes = host === undefined ? undefined : this.#hosts.lookup(host);
    if (prefixes !== undefined) {
      const path = url ?? '/';
      for (const { prefix, target } of prefixes) if (matches(prefix, path)) return target;
    }
    return this.#fallback;
  }
}

function matches(prefix: string, path: string): boolean {
  if (prefix === '/') return true;
  if (!path.startsWith(prefix)) return false;
  const next = path.charAt(prefix.length);
  return next === '' || next === '/' || next === '?' || next === '#';
}
