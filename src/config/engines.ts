// `engines:` — several container engines by name, each in DOCKER_HOST syntax with optional TLS files;
// a service picks one with `engine: NAME`, the top-level `engine:` being the one named "default".

import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import { parseEngineHost } from './engine-host.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import type { EngineConfig, EngineTls } from './types.ts';
import { field, isMap, report } from './zod-field.ts';

/** The name of the top-level `engine:` (or DOCKER_HOST, or the default socket). */
export const DEFAULT_ENGINE = 'default';
const ENGINE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A TLS file (ca, cert, key): absolute, or relative to the config file's directory. */
function parseTlsFile(value: unknown, baseDir: string | undefined): Parsed<string> {
  if (typeof value !== 'string' || value.trim() === '' || value.includes('\0')) return fail(`expected the path of a PEM file, got ${show(value)}`);
  if (!isAbsolute(value) && baseDir === undefined) return fail(`expected an absolute path, got ${show(value)}`);
  return ok(baseDir === undefined ? resolve(value) : resolve(baseDir, value));
}

export const TLS_SHAPE_KEYS = ['ca', 'cert', 'key', 'verify'] as const;
export const ENGINE_SHAPE_KEYS = ['host', 'tls'] as const;

function engineBodySchema(baseDir: string | undefined): z.ZodType<Omit<EngineConfig, 'name'>, unknown> {
  const file = field((v) => parseTlsFile(v, baseDir));
  const tls = z.strictObject({
    ca: file.optional(),
    cert: file.optional(),
    key: file.optional(),
    verify: field((v): Parsed<boolean> => (typeof v === 'boolean' ? ok(v) : fail(`expected true or false, got ${show(v)}`))).optional(),
  }).transform((t, ctx): EngineTls => {
    if ((t.cert === undefined) !== (t.key === undefined)) report(ctx, 'give cert and key together (the client certificate and its key)', [t.cert === undefined ? 'key' : 'cert'], 'key');
    return { ...(t.ca === undefined ? {} : { ca: t.ca }), ...(t.cert === undefined ? {} : { cert: t.cert }), ...(t.key === undefined ? {} : { key: t.key }), verify: t.verify ?? true };
  });
  const long = z.strictObject({ host: field(parseEngineHost), tls: tls.optional() }).transform((e, ctx) => {
    if (e.tls !== undefined && !e.host.trim().startsWith('tcp://')) report(ctx, `applies only to a tcp:// engine, not ${show(e.host)}`, ['tls'], 'key');
    return { host: e.host, ...(e.tls === undefined ? {} : { tls: e.tls }) };
  });
  // `NAME: ADDRESS` is short for `NAME: {host: ADDRESS}`.
  return z.preprocess((v) => (typeof v === 'string' ? { host: v } : v), long);
}

/** `engines:` — a map from engine name to an address or {host, tls}. */
export function enginesSchema(options: { baseDir?: string | undefined }): z.ZodType<EngineConfig[], unknown> {
  const body = engineBodySchema(options.baseDir);
  return z.unknown().transform((value, ctx): EngineConfig[] => {
    if (!isMap(value)) {
      report(ctx, `expected a map of engine name to address, e.g. "podman: unix:///run/podman/podman.sock", got ${show(value)}`);
      return z.NEVER;
    }
    const engines: EngineConfig[] = [];
    let failed = false;
    for (const [name, raw] of Object.entries(value)) {
      if (name === DEFAULT_ENGINE) {
        report(ctx, `"${DEFAULT_ENGINE}" is the top-level engine: key; give its address there, or name this engine differently`, [name], 'key');
        failed = true;
      } else if (!ENGINE_NAME.test(name)) {
        report(ctx, `invalid engine name ${show(name)}: use letters, digits, "_", "." and "-", starting with a letter or digit`, [name], 'key');
        failed = true;
      }
      const parsed = body.safeParse(raw);
      if (!parsed.success) {
        for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, input: undefined, path: [name, ...issue.path] });
        failed = true;
      } else {
        engines.push({ name, ...parsed.data });
      }
    }
    return failed ? z.NEVER : engines;
  });
}

/** The engine names a service may give: "default" and every key of `engines:` (raw data, for the rules). */
export function knownEngineNames(rawEngines: unknown): string[] {
  return [DEFAULT_ENGINE, ...(isMap(rawEngines) ? Object.keys(rawEngines).filter((n) => n !== DEFAULT_ENGINE) : [])];
}

/** A service's `engine:` — a name. Whether it names a known engine is a rule (rules.ts). */
export function parseEngineName(value: unknown): Parsed<string> {
  if (typeof value === 'string' && ENGINE_NAME.test(value)) return ok(value);
  return fail(`expected the name of an engine ("${DEFAULT_ENGINE}" or a key of engines:), got ${show(value)}`);
}
