// How portwake decides a started container is ready: `tcp`, `health`, `http` (GET /),
// `{http: "/path"}`, `{http: {path, status: "200-399", host}}` or `{delay: 1s}`.

import { z } from 'zod';
import type { ReadySpec } from './types.ts';
import { parseDuration } from './duration.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import { didYouMean } from './suggest.ts';
import { delegate, field, isMap, report } from './zod-field.ts';

const WORDS = ['tcp', 'health', 'http'] as const;
const EXPECTED = 'expected tcp, health, http, {http: "/path"} or {delay: "1s"}';
const DEFAULT_STATUS = { statusMin: 200, statusMax: 399 };

/** `200`, `"204"`, `"200-399"` or `"2xx"`. */
export function parseStatusRange(value: unknown): Parsed<{ statusMin: number; statusMax: number }> {
  const expected = `expected an HTTP status or range like "200-399", got ${show(value)}`;
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : undefined;
  if (text === undefined) return fail(expected);
  const m = /^(\d{3})(?:\s*-\s*(\d{3}))?$/.exec(text) ?? /^([1-5])xx$/i.exec(text);
  if (m === null) return fail(expected);
  const [min, max] = m[0].toLowerCase().endsWith('xx')
    ? [Number(m[1]) * 100, Number(m[1]) * 100 + 99]
    : [Number(m[1]), Number(m[2] ?? m[1])];
  if (min < 100 || max > 599) return fail(`${show(value)}: HTTP statuses are 100-599`);
  if (min > max) return fail(`${show(value)}: the range is empty (${min} > ${max})`);
  return ok({ statusMin: min, statusMax: max });
}

export function parseHttpPath(value: unknown): Parsed<string> {
  const printable = (c: string): boolean => c > ' ' && c !== '\x7f';
  if (typeof value !== 'string' || !value.startsWith('/') || ![...value].every(printable)) {
    return fail(`expected a request path starting with "/", like "/healthz", got ${show(value)}`);
  }
  return ok(value);
}

function parseHostHeader(value: unknown): Parsed<string> {
  if (typeof value !== 'string' || !/^[A-Za-z0-9._~:[\]-]+$/.test(value)) {
    return fail(`expected a Host header value like "app.example.com", got ${show(value)}`);
  }
  return ok(value);
}

export const HTTP_READY_SHAPE = {
  path: field(parseHttpPath).optional(),
  status: field(parseStatusRange).optional(),
  host: field(parseHostHeader).optional(),
};
const httpMap = z.strictObject(HTTP_READY_SHAPE);

type HttpReady = Extract<ReadySpec, { kind: 'http' }>;

const http = z.unknown().transform((value, ctx): HttpReady => {
  if (typeof value === 'string') {
    const path = parseHttpPath(value);
    if (path.ok) return { kind: 'http', path: path.value, host: undefined, ...DEFAULT_STATUS };
    report(ctx, path.message);
    return z.NEVER;
  }
  if (!isMap(value)) {
    report(ctx, `expected a path like "/healthz" or a map {path, status, host}, got ${show(value)}`);
    return z.NEVER;
  }
  const parsed = delegate(httpMap, value, ctx);
  if (parsed === undefined) return z.NEVER;
  return { kind: 'http', path: parsed.path ?? '/', host: parsed.host, ...(parsed.status ?? DEFAULT_STATUS) };
});

export const READY_MAP_SHAPE = {
  http: http.optional(),
  delay: field((v) => parseDuration(v, { zero: true })).optional(),
};
const readyMap = z.strictObject(READY_MAP_SHAPE);

/** The `ready:` value of a service. */
export const readySchema = z.unknown().transform((value, ctx): ReadySpec => {
  if (typeof value === 'string') {
    const word = value.trim();
    if (word === 'tcp' || word === 'health') return { kind: word };
    if (word === 'http') return { kind: 'http', path: '/', host: undefined, ...DEFAULT_STATUS };
    report(ctx, `${EXPECTED}, got ${show(value)}${didYouMean(word, WORDS)}`);
    return z.NEVER;
  }
  if (!isMap(value)) {
    report(ctx, `${EXPECTED}, got ${show(value)}`);
    return z.NEVER;
  }
  const parsed = delegate(readyMap, value, ctx);
  if (parsed === undefined) return z.NEVER;
  if (parsed.http !== undefined && parsed.delay !== undefined) {
    report(ctx, 'give one of "http" or "delay", not both', ['delay']);
    return z.NEVER;
  }
  if (parsed.http !== undefined) return parsed.http;
  if (parsed.delay !== undefined) return { kind: 'delay', ms: parsed.delay };
  report(ctx, `${EXPECTED}, got an empty map`);
  return z.NEVER;
});
