// The HTTP router's keys: top-level `http: {listen, defaultService, trustForwarded, forwardedHeaders}`
// and a service's `paths:` and `strategy:` (its `hosts:` are parsed by hosts.ts).

import net from 'node:net';
import { z } from 'zod';
import type { HttpConfig, ListenSpec } from './types.ts';
import { parseHttpPath } from './ready.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import { field } from './zod-field.ts';

/** `trustForwarded:` entry: an address or a CIDR block ("10.0.0.0/8", "::1", "fd00::/8"). */
export function parseCidr(value: unknown): Parsed<{ address: string; prefix: number; family: 4 | 6 }> {
  const expected = `expected an IP address or CIDR block like "10.0.0.0/8" or "::1", got ${show(value)}`;
  if (typeof value !== 'string') return fail(expected);
  const [address = '', bits, extra] = value.trim().split('/');
  const family = net.isIP(address);
  if ((family !== 4 && family !== 6) || extra !== undefined) return fail(expected);
  const max = family === 4 ? 32 : 128;
  if (bits !== undefined && !/^\d{1,3}$/.test(bits)) return fail(expected);
  const prefix = bits === undefined ? max : Number(bits);
  if (prefix > max) return fail(`${show(value)}: an IPv${family} prefix is at most /${max}`);
  return ok({ address, prefix, family });
}

function parseTrusted(value: unknown): Parsed<string[]> {
  const items = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  for (const [i, item] of items.entries()) {
    const c = parseCidr(item);
    if (!c.ok) return fail(Array.isArray(value) ? `[${i}]: ${c.message}` : c.message);
    out.push(`${c.value.address}/${c.value.prefix}`);
  }
  return ok(out);
}

/** `paths:` — one path prefix or a non-empty list, each starting with "/". */
export function parsePaths(value: unknown): Parsed<string[]> {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) return fail('expected at least one path prefix like "/api"');
  const out: string[] = [];
  for (const [i, item] of items.entries()) {
    const p = parseHttpPath(item);
    if (!p.ok || p.value.includes('?') || p.value.includes('#')) {
      return fail(`${Array.isArray(value) ? `[${i}]: ` : ''}expected a path prefix like "/api" (no query), got ${show(item)}`);
    }
    // "/api/" and "/api" are one prefix: matching is by whole segments (router.ts).
    out.push(p.value.length > 1 ? p.value.replace(/\/+$/, '') || '/' : p.value);
  }
  return ok(out);
}

export function parseStrategy(value: unknown): Parsed<'block' | 'page'> {
  return value === 'block' || value === 'page'
    ? ok(value)
    : fail(`expected "page" (a browser gets a waiting page while the service starts) or "block" (every request waits), got ${show(value)}`);
}

function parseBoolean(value: unknown): Parsed<boolean> {
  return typeof value === 'boolean' ? ok(value) : fail(`expected true or false, got ${show(value)}`);
}

export function httpShape(listen: z.ZodType<ListenSpec[], unknown>) {
  return {
    listen,
    defaultService: field((v): Parsed<string> => (typeof v === 'string' && v !== '' ? ok(v) : fail(`expected a service name, got ${show(v)}`))).optional(),
    trustForwarded: field(parseTrusted).optional(),
    forwardedHeaders: field(parseBoolean).optional(),
  };
}

/** `http: ADDR` is short for `http: {listen: ADDR}`. */
export function httpMap(value: unknown): unknown {
  return typeof value === 'string' || typeof value === 'number' || Array.isArray(value) ? { listen: value } : value;
}

export function httpSchema(listen: z.ZodType<ListenSpec[], unknown>): z.ZodType<HttpConfig, unknown> {
  return z.preprocess(httpMap, z.strictObject(httpShape(listen)).transform((h): HttpConfig => ({
    listen: h.listen,
    defaultService: h.defaultService,
    trustForwarded: h.trustForwarded ?? [],
    forwardedHeaders: h.forwardedHeaders ?? true,
  })));
}
