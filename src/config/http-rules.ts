// Rules of the HTTP router that relate fields to each other: `hosts:` needs a top-level `http:` (or `tls:`),
// no two services claim one host and path, `defaultService` names a service, and the router's
// listeners join the overlap check of every other listener.

import { formatHostPattern, parseHosts } from './hosts.ts';
import { httpMap, parsePaths } from './http.ts';
import { parseListenAddress } from './listen-address.ts';
import type { Claim } from './listen-overlap.ts';
import type { Locator, RawIssue } from './locator.ts';
import { show } from './parsed.ts';
import type { SchemaOptions } from './schema.ts';
import { didYouMean } from './suggest.ts';
import { isMap } from './zod-field.ts';

export function httpIssues(root: Record<string, unknown>, options: SchemaOptions, claims: Claim[], locator: Locator): RawIssue[] {
  const issues: RawIssue[] = [];
  const http = httpMap(root.http);
  if (isMap(http)) {
    const list = Array.isArray(http.listen) ? http.listen : http.listen === undefined ? [] : [http.listen];
    list.forEach((item, i) => {
      const spec = parseListenAddress(item, { baseDir: options.baseDir });
      if (spec.ok) claims.push({ owner: undefined, label: 'the HTTP router', path: Array.isArray(http.listen) ? ['http', 'listen', i] : ['http', 'listen'], address: spec.value, text: spec.value.text });
    });
  }
  const services = isMap(root.services) ? root.services : {};
  /** "host path" → the service that claimed it first, and where. */
  const routes = new Map<string, { service: string; path: PropertyKey[] }>();
  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service)) continue;
    const at = (key: string): PropertyKey[] => ['services', name, key];
    if (service.hosts === undefined) {
      for (const key of ['paths', 'strategy']) {
        if (service[key] !== undefined) issues.push({ path: at(key), at: 'key', message: 'applies only to a service with "hosts:" (the HTTP router)' });
      }
      continue;
    }
    if (root.http === undefined && options.routers?.http !== true) {
      // Routed by the TLS listeners only (their own rules, config/tls.ts), or by nothing.
      if (root.tls === undefined && options.routers?.tls !== true) issues.push({ path: at('hosts'), at: 'key', message: 'needs a top-level "http: {listen: 80}" or "tls: {listen: 443}" to route these hosts from' });
      continue;
    }
    const hosts = parseHosts(service.hosts);
    const paths = service.paths === undefined ? { ok: true as const, value: ['/'] } : parsePaths(service.paths);
    if (!hosts.ok || !paths.ok) continue;
    for (const host of hosts.value) {
      for (const prefix of paths.value) {
        const key = `${formatHostPattern(host)} ${prefix}`;
        const earlier = routes.get(key);
        if (earlier === undefined) {
          routes.set(key, { service: name, path: at('hosts') });
        } else if (earlier.service !== name) {
          const route = prefix === '/' ? `host "${formatHostPattern(host)}"` : `host "${formatHostPattern(host)}" path "${prefix}"`;
          issues.push({ path: at('hosts'), at: 'value', message: `${route} is claimed by service "${earlier.service}" (${locator.reference(earlier.path)}) and by service "${name}"; give each host and path to one service` });
        }
      }
    }
  }
  if (isMap(http) && http.defaultService !== undefined && typeof http.defaultService === 'string') {
    const names = Object.keys(services);
    if (!names.includes(http.defaultService)) {
      issues.push({ path: ['http', 'defaultService'], at: 'value', message: `no service named ${show(http.defaultService)}${didYouMean(http.defaultService, names)}` });
    }
  }
  return issues;
}
