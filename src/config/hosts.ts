// `hosts:` — the host names a service answers on the shared HTTP and TLS listeners: exact names and
// one-level wildcards ("*.preview.example.com"), compared without case and without a port.

import { fail, ok, show, type Parsed } from './parsed.ts';

/** A host name as the routers compare it: lower case, no port, no trailing dot. */
export type HostPattern =
  | { kind: 'exact'; name: string }
  /** `*.suffix` matches exactly one more label in front of suffix. */
  | { kind: 'wildcard'; suffix: string };

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** One `hosts:` entry, e.g. "app.example.com", "*.preview.example.com", "App.Example.com:8080". */
export function parseHostPattern(value: unknown): Parsed<HostPattern> {
  if (typeof value !== 'string' || value.trim() === '') {
    return fail(`expected a host name like "app.example.com" or "*.preview.example.com", got ${show(value)}`);
  }
  const name = normalizeHost(value);
  const wildcard = name.startsWith('*.');
  const rest = wildcard ? name.slice(2) : name;
  const labels = rest.split('.');
  if (rest.length > 253 || !labels.every((l) => LABEL.test(l))) {
    return fail(`invalid host name ${show(value)}: use letters, digits, "-" and dots; a wildcard only as the whole first label ("*.example.com")`);
  }
  return ok(wildcard ? { kind: 'wildcard', suffix: rest } : { kind: 'exact', name: rest });
}

/** `hosts:` — one host name or a non-empty list of them. */
export function parseHosts(value: unknown): Parsed<HostPattern[]> {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return fail('expected at least one host name');
  const patterns: HostPattern[] = [];
  for (const [i, item] of items.entries()) {
    const p = parseHostPattern(item);
    if (!p.ok) return fail(Array.isArray(value) ? `[${i}]: ${p.message}` : p.message);
    patterns.push(p.value);
  }
  return ok(patterns);
}

/**
 * A Host header's or an SNI server name's host, as patterns are stored: lower case, without the
 * port (also after an IPv6 literal "[::1]:8080") and without a trailing dot.
 */
export function normalizeHost(host: string): string {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(0, end + 1);
  }
  const colon = h.lastIndexOf(':');
  if (colon >= 0 && h.indexOf(':') === colon) h = h.slice(0, colon);
  return h.endsWith('.') ? h.slice(0, -1) : h;
}

export function formatHostPattern(p: HostPattern): string {
  return p.kind === 'exact' ? p.name : `*.${p.suffix}`;
}
