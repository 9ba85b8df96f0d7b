// `wake:` — which requests may start a stopped service: source CIDRs (allow/deny), and for HTTP
// requests methods, path prefixes and User-Agent patterns (deny). The evaluation is core/wake.ts's.

import { z } from 'zod';
import { parseCidr, type Cidr } from '../core/cidr.ts';
import type { WakeSpec } from '../core/wake.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import { parseHttpPath } from './ready.ts';
import { report } from './zod-field.ts';

/** One value or a non-empty list, each item parsed; a bad item is reported at its index. */
function listOf<T>(parse: (value: unknown) => Parsed<T>): z.ZodType<T[], unknown> {
  return z.unknown().transform((value, ctx): T[] => {
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0) {
      report(ctx, 'expected at least one entry (leave the key out instead)');
      return z.NEVER;
    }
    const out: T[] = [];
    items.forEach((item, i) => {
      const p = parse(item);
      if (p.ok) out.push(p.value);
      else report(ctx, p.message, Array.isArray(value) ? [i] : []);
    });
    return out.length === items.length ? out : z.NEVER;
  });
}

export function parseSource(value: unknown): Parsed<Cidr> {
  if (typeof value !== 'string' || value.trim() === '') {
    return fail(`expected an address or CIDR block like "10.0.0.0/8", "192.168.1.7" or "fd00::/8", got ${show(value)}`);
  }
  const c = parseCidr(value.trim());
  return typeof c === 'string' ? fail(c) : ok(c);
}

function parseMethod(value: unknown): Parsed<string> {
  if (typeof value !== 'string' || !/^[A-Za-z]+$/.test(value.trim())) return fail(`expected an HTTP method like "HEAD", got ${show(value)}`);
  return ok(value.trim().toUpperCase());
}

function parseUserAgent(value: unknown): Parsed<string> {
  if (typeof value !== 'string' || value.trim() === '') return fail(`expected part of a User-Agent like "UptimeRobot", got ${show(value)}`);
  return ok(value.trim().toLowerCase());
}

export const WAKE_ALLOW_SHAPE = { sources: listOf(parseSource).optional() };
export const WAKE_DENY_SHAPE = {
  sources: listOf(parseSource).optional(),
  methods: listOf(parseMethod).optional(),
  paths: listOf(parseHttpPath).optional(),
  userAgents: listOf(parseUserAgent).optional(),
};
export const WAKE_SHAPE = {
  allow: z.strictObject(WAKE_ALLOW_SHAPE).optional(),
  deny: z.strictObject(WAKE_DENY_SHAPE).optional(),
};

export const wakeSchema: z.ZodType<WakeSpec, unknown> = z.strictObject(WAKE_SHAPE).transform((w): WakeSpec => ({
  ...(w.allow === undefined ? {} : { allow: { sources: w.allow.sources } }),
  ...(w.deny === undefined ? {} : { deny: w.deny }),
}));
