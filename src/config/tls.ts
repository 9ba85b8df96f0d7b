// `tls:` — the shared TLS listeners routed by SNI (no termination): `{listen, defaultService,
// helloTimeout}`; services join with `hosts:` and send TLS to their `tlsPort`. Also the rules
// that relate them: the default service exists, no host name belongs to two services.

import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { formatHostPattern, parseHosts } from './hosts.ts';
import { parsePaths } from './http.ts';
import { parseListenAddress } from './listen-address.ts';
import type { Claim } from './listen-overlap.ts';
import type { RawIssue } from './locator.ts';
import { show } from './parsed.ts';
import type { SchemaOptions } from './schema.ts';
import type { ListenSpec } from './types.ts';
import { field, isMap } from './zod-field.ts';

export interface TlsConfig {
  listen: ListenSpec[];
  /** The service for a ClientHello without a server name or with one no service claims; undefined: close it. */
  defaultService: string | undefined;
  /** How long a client may take to send its ClientHello (undefined: the router's default, 10 s). */
  helloTimeoutMs?: number | undefined;
}

export const DEFAULT_TLS_PORT = 443;

export function tlsShape(listen: z.ZodType<ListenSpec[], unknown>) {
  return {
    listen,
    defaultService: field((v) => (typeof v === 'string' && v.trim() !== ''
      ? { ok: true as const, value: v.trim() }
      : { ok: false as const, message: `expected the name of a service, got ${show(v)}` })).optional(),
    helloTimeout: field((v) => parseDuration(v)).optional(),
  };
}

export function tlsSchema(listen: z.ZodType<ListenSpec[], unknown>): z.ZodType<TlsConfig, unknown> {
  return z.preprocess(
    (v) => (typeof v === 'string' || typeof v === 'number' || Array.isArray(v) ? { listen: v } : v),
    z.strictObject(tlsShape(listen)).transform((t): TlsConfig => ({
      listen: t.listen.map((l) => (l.kind === 'unix' ? { ...l, mode: undefined } : l)),
      defaultService: t.defaultService,
      ...(t.helloTimeout === undefined ? {} : { helloTimeoutMs: t.helloTimeout }),
    })),
  );
}

/**
 * `tls.defaultService` names a service; no host name is claimed by two services; `tls.listen`
 * joins `claims`, so an address it shares with a service, the HTTP router or the control API is
 * an error (rules.ts reports the overlaps).
 */
export function tlsIssues(root: Record<string, unknown>, options: SchemaOptions, claims: Claim[]): RawIssue[] {
  const issues: RawIssue[] = [];
  const tls = typeof root.tls === 'string' || typeof root.tls === 'number' || Array.isArray(root.tls) ? { listen: root.tls } : root.tls;
  if (!isMap(tls) || !isMap(root.services)) return issues;
  const names = Object.keys(root.services);
  const listen = Array.isArray(tls.listen) ? tls.listen : [tls.listen];
  listen.forEach((item, i) => {
    const spec = parseListenAddress(item, { baseDir: options.baseDir });
    const path = Array.isArray(tls.listen) ? ['tls', 'listen', i] : ['tls', 'listen'];
    if (spec.ok && spec.value.kind === 'systemd') {
      issues.push({ path, at: 'value', message: 'systemd sockets are not supported for tls: listeners yet; use HOST:PORT or unix:/path' });
    } else if (spec.ok) {
      claims.push({ owner: undefined, label: 'the TLS router', path, address: spec.value, text: spec.value.text });
    }
  });
  if (typeof tls.defaultService === 'string' && !names.includes(tls.defaultService.trim())) {
    issues.push({ path: ['tls', 'defaultService'], at: 'value', message: `no service named ${show(tls.defaultService)} (services: ${names.join(', ')})` });
  }
  // With http: too, a host and path that two services claim is reported there (http-rules.ts);
  // here only what the HTTP router could tell apart by path and the TLS router cannot.
  const routed = root.http !== undefined;
  const owners = new Map<string, { name: string; paths: readonly string[] }>();
  for (const [name, service] of Object.entries(root.services)) {
    if (!isMap(service) || service.hosts === undefined) continue;
    const hosts = parseHosts(service.hosts);
    const parsedPaths = service.paths === undefined ? undefined : parsePaths(service.paths);
    const paths = parsedPaths?.ok === true ? parsedPaths.value : ['/'];
    if (!hosts.ok) continue;
    for (const [i, p] of hosts.value.entries()) {
      const text = formatHostPattern(p);
      const earlier = owners.get(text);
      if (earlier !== undefined && earlier.name !== name && !(routed && earlier.paths.some((x) => paths.includes(x)))) {
        issues.push({
          path: Array.isArray(service.hosts) ? ['services', name, 'hosts', i] : ['services', name, 'hosts'], at: 'value',
          message: `"${text}" is also a host of service "${earlier.name}"${routed ? ' (the HTTP router tells them apart by path; the TLS router sees the host name only)' : ''}`,
        });
      }
      owners.set(text, { name, paths });
    }
  }
  return issues;
}
