// `discovery:` — services from container labels (daemon/discovery/): which label prefix marks them
// and which label filter limits them, e.g. `discovery: {docker: {labelPrefix: portwake, filter:
// com.docker.compose.project=myapp}}`.

import { z } from 'zod';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import type { DiscoveryConfig, PortwakeConfig } from './types.ts';
import { field, isMap, report } from './zod-field.ts';

export const DEFAULT_LABEL_PREFIX = 'portwake';

/** What discovery does when `--discover` is given or `discovery: {docker: {}}` is written. */
export const DEFAULT_DISCOVERY: DiscoveryConfig = { docker: { labelPrefix: DEFAULT_LABEL_PREFIX, filter: [] } };

/** A label key as Docker recommends them: letters, digits, dots and dashes, starting and ending with a letter or digit. */
const LABEL_KEY = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]*[A-Za-z0-9])?$/;

export function parseLabelPrefix(value: unknown): Parsed<string> {
  if (typeof value === 'string' && LABEL_KEY.test(value.trim())) return ok(value.trim());
  return fail(`expected a label prefix like "portwake" (letters, digits, ".", "-", "_", "/", not ending in "."), got ${show(value)}`);
}

/** One label filter: `KEY` (the label is present) or `KEY=VALUE`, as `docker ps --filter label=…` takes it. */
export function parseLabelFilter(value: unknown): Parsed<string> {
  const text = typeof value === 'string' ? value.trim() : undefined;
  const key = text?.split('=')[0];
  if (text !== undefined && key !== undefined && LABEL_KEY.test(key) && !/\s/.test(key)) return ok(text);
  return fail(`expected a label filter like "com.docker.compose.project=myapp" (KEY or KEY=VALUE), got ${show(value)}`);
}

/** `filter:` — one filter or a list; all must match (Docker ANDs label filters). */
const filterSchema = z.unknown().transform((value, ctx): string[] => {
  const items = Array.isArray(value) ? value : [value];
  const out: string[] = [];
  items.forEach((item, i) => {
    const f = parseLabelFilter(item);
    if (f.ok) out.push(f.value);
    else report(ctx, f.message, Array.isArray(value) ? [i] : []);
  });
  return out.length === items.length ? out : z.NEVER;
});

export const DOCKER_DISCOVERY_SHAPE = {
  labelPrefix: field(parseLabelPrefix).optional(),
  filter: filterSchema.optional(),
};

export const DISCOVERY_SHAPE = {
  docker: z.preprocess((v) => (v === null ? {} : v), z.strictObject(DOCKER_DISCOVERY_SHAPE)),
};

/** `discovery:` — `{docker: {…}}`; `docker:` left empty takes the defaults. */
export const discoverySchema = z.unknown().transform((value, ctx): DiscoveryConfig => {
  if (!isMap(value)) {
    report(ctx, `expected a map like {docker: {labelPrefix: portwake}}, got ${show(value)}`);
    return z.NEVER;
  }
  const parsed = z.strictObject(DISCOVERY_SHAPE).safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, input: undefined });
    return z.NEVER;
  }
  const d = parsed.data.docker;
  return { docker: { labelPrefix: d.labelPrefix ?? DEFAULT_LABEL_PREFIX, filter: d.filter ?? [] } };
});

/** `--discover` and its flags, as the CLI parsed them. */
export interface DiscoverFlags {
  discover?: boolean | undefined;
  labelPrefix?: string | undefined;
  labelFilter?: readonly string[] | undefined;
}

/**
 * The config with discovery as the flags ask: `--discover` turns it on (with the file's settings,
 * or the defaults), `--label-prefix`/`--label-filter` override them. `file` undefined: no file, the
 * labelled containers are all the services. Throws a ConfigError naming the flag for a bad value.
 */
export function withDiscoverFlags(file: PortwakeConfig | undefined, flags: DiscoverFlags): PortwakeConfig {
  const issues: ConfigIssue[] = [];
  const flagIssue = (path: string, message: string): void => { issues.push({ line: undefined, col: undefined, path, message }); };
  if (flags.discover !== true) {
    if (flags.labelPrefix !== undefined) flagIssue('--label-prefix', 'needs --discover');
    if (flags.labelFilter !== undefined) flagIssue('--label-filter', 'needs --discover');
  }
  const base = file?.discovery ?? DEFAULT_DISCOVERY;
  let labelPrefix = base.docker.labelPrefix;
  if (flags.labelPrefix !== undefined) {
    const p = parseLabelPrefix(flags.labelPrefix);
    if (p.ok) labelPrefix = p.value;
    else flagIssue('--label-prefix', p.message);
  }
  const filter = flags.labelFilter === undefined ? base.docker.filter : flags.labelFilter.flatMap((f) => {
    const p = parseLabelFilter(f);
    if (!p.ok) flagIssue('--label-filter', p.message);
    return p.ok ? [p.value] : [];
  });
  if (issues.length > 0) throw new ConfigError(file?.source ?? DISCOVERY_SOURCE, issues, undefined);
  const config = file ?? { source: DISCOVERY_SOURCE, services: [], engineHost: undefined, control: undefined };
  if (flags.discover !== true) return config;
  return { ...config, discovery: { docker: { labelPrefix, filter } } };
}

/** PortwakeConfig.source of a config with no file (`run --discover` alone). */
export const DISCOVERY_SOURCE = '<discovery>';
