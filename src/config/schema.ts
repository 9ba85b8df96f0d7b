// The zod schema of portwake.yaml: shapes, unknown keys, required keys and every field's syntax.
// Rules that relate fields to each other live in rules.ts, so each is checked even when an
// unrelated field of the same service is wrong.

import { z } from 'zod';
import { DEFAULTS, type ControlConfig, type ListenSpec, type PortwakeConfig, type ServiceConfig } from './types.ts';
import { controlListen, parseControlAddress, parseInsecureNoToken, parseTokenFile } from './control-address.ts';
import { discoverySchema, DISCOVERY_SHAPE, DOCKER_DISCOVERY_SHAPE } from './discovery.ts';
import { parseDuration } from './duration.ts';
import { parseEndpoint } from './endpoint.ts';
import { parseHosts } from './hosts.ts';
import { httpSchema, httpShape, parsePaths, parseStrategy } from './http.ts';
import { parseEngineHost } from './engine-host.ts';
import { parsePort } from './host-port.ts';
import { parseListenAddress } from './listen-address.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import { HTTP_READY_SHAPE, READY_MAP_SHAPE, readySchema } from './ready.ts';
import { parseSocketMode } from './socket-mode.ts';
import { delegate, field, isMap, report } from './zod-field.ts';

export const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface SchemaOptions {
  /** Directory relative unix: paths resolve against; undefined (the config file): they are errors. */
  baseDir?: string | undefined;
  /** The daemon's environment gives it a control token (PORTWAKE_TOKEN, a systemd credential). */
  tokenFromEnvironment?: boolean | undefined;
}

export function parseServiceName(name: string): Parsed<string> {
  return SERVICE_NAME.test(name)
    ? ok(name)
    : fail(`invalid service name ${show(name)}: use letters, digits, "_", "." and "-", starting with a letter or digit`);
}

export function parseContainerName(value: unknown): Parsed<string> {
  if (typeof value === 'string' && CONTAINER_NAME.test(value)) return ok(value);
  return fail(`expected a container name or ID like "nginx8080", got ${show(value)}`);
}

export function parsePositiveInteger(value: unknown): Parsed<number> {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n > 0) return ok(n);
  return fail(`expected a positive whole number, got ${show(value)}`);
}

/** `startLimitBurst:` — failed starts that begin a back-off; 0 turns the start limit off. */
function parseStartLimitBurst(value: unknown): Parsed<number> {
  if (value === 0 || value === '0') return ok(0);
  const n = parsePositiveInteger(value);
  return n.ok ? n : fail(`expected a whole number (0 turns the start limit off), got ${show(value)}`);
}

/** `listen:` — one address or a non-empty list; each problem is reported at its list index. */
export function listenSchema(options: SchemaOptions): z.ZodType<ListenSpec[], unknown> {
  return z.unknown().transform((value, ctx): ListenSpec[] => {
    const items = Array.isArray(value) ? value : [value];
    if (items.length === 0) {
      report(ctx, 'expected at least one address');
      return z.NEVER;
    }
    const specs: ListenSpec[] = [];
    items.forEach((item, i) => {
      const spec = parseListenAddress(item, { baseDir: options.baseDir });
      if (spec.ok) specs.push(spec.value);
      else report(ctx, spec.message, Array.isArray(value) ? [i] : []);
    });
    return specs.length === items.length ? specs : z.NEVER;
  });
}

const duration = (opts: Parameters<typeof parseDuration>[1] = {}): z.ZodType<number, unknown> =>
  field((v) => parseDuration(v, opts));

const idleTimeout = field((v): Parsed<number | undefined> => (v === 'never' ? ok(undefined) : parseDuration(v)));

const idleOn = field((v): Parsed<'connections' | 'traffic'> => (v === 'connections' || v === 'traffic'
  ? ok(v)
  : fail(`expected "connections" (idle when none is open) or "traffic" (idle when no bytes move), got ${show(v)}`)));

function serviceShape(options: SchemaOptions) {
  return {
    listen: listenSchema(options).optional(),
    hosts: field(parseHosts).optional(),
    paths: field(parsePaths).optional(),
    strategy: field(parseStrategy).optional(),
    socketMode: field(parseSocketMode).optional(),
    container: field(parseContainerName),
    port: field(parsePort).optional(),
    upstream: field((v) => parseEndpoint(v, options.baseDir)).optional(),
    ready: readySchema.optional(),
    startTimeout: duration().optional(),
    idleTimeout: idleTimeout.optional(),
    stopTimeout: duration({ zero: true, wholeSeconds: true }).optional(),
    maxConnections: field(parsePositiveInteger).optional(),
    maxPending: field(parsePositiveInteger).optional(),
    idleOn: idleOn.optional(),
    holdTimeout: duration().optional(),
    maxHeldBytes: field(parsePositiveInteger).optional(),
    halfCloseTimeout: field((v): Parsed<number | null> => (v === 'never' ? ok(null) : parseDuration(v))).optional(),
    startLimitBurst: field(parseStartLimitBurst).optional(),
    startLimitInterval: duration().optional(),
    startBackoffMax: duration().optional(),
  };
}

/** One service's body; its name (the key) is added by servicesSchema. */
function serviceSchema(options: SchemaOptions): z.ZodType<Omit<ServiceConfig, 'name'>, unknown> {
  return z.strictObject(serviceShape(options)).transform((s, ctx): Omit<ServiceConfig, 'name'> => {
    if (s.listen === undefined && s.hosts === undefined) {
      report(ctx, 'is required (where to accept connections, e.g. "80"), unless the service has "hosts:" for the HTTP router', ['listen'], 'parent');
      return z.NEVER;
    }
    return {
      listen: (s.listen ?? []).map((l) => (l.kind === 'unix' ? { ...l, mode: s.socketMode } : l)),
      ...(s.hosts === undefined ? {} : { hosts: s.hosts }),
      ...(s.paths === undefined ? {} : { paths: s.paths }),
      ...(s.strategy === undefined ? {} : { strategy: s.strategy }),
      container: s.container,
      port: s.port,
      upstream: s.upstream,
      // Behind the HTTP router any HTTP answer means the app is up (one answering 401 or 404 on / too).
      ready: s.ready ?? (s.hosts === undefined ? { kind: 'tcp' } : HTTP_ANY_STATUS),
      startTimeoutMs: s.startTimeout ?? DEFAULTS.startTimeoutMs,
      idleTimeoutMs: s.idleTimeout,
      stopTimeoutMs: s.stopTimeout ?? DEFAULTS.stopTimeoutMs,
      maxConnections: s.maxConnections ?? DEFAULTS.maxConnections,
      maxPending: s.maxPending ?? DEFAULTS.maxPending,
      // Set only when given (the defaults are applied where they are used: see DEFAULTS).
      ...(s.idleOn === undefined ? {} : { idleOn: s.idleOn }),
      ...(s.holdTimeout === undefined ? {} : { holdTimeoutMs: s.holdTimeout }),
      ...(s.maxHeldBytes === undefined ? {} : { maxHeldBytes: s.maxHeldBytes }),
      ...(s.halfCloseTimeout === undefined ? {} : { halfCloseTimeoutMs: s.halfCloseTimeout }),
      // Set only when given: the activation applies the defaults (START_LIMIT_DEFAULTS).
      ...(s.startLimitBurst === undefined ? {} : { startLimitBurst: s.startLimitBurst }),
      ...(s.startLimitInterval === undefined ? {} : { startLimitIntervalMs: s.startLimitInterval }),
      ...(s.startBackoffMax === undefined ? {} : { startBackoffMaxMs: s.startBackoffMax }),
    };
  });
}

/** The default readiness of a service with `hosts:`: GET / answered with any status. */
const HTTP_ANY_STATUS = { kind: 'http', path: '/', host: undefined, statusMin: 100, statusMax: 599 } as const;

/** `services:` — a non-empty map from service name to service; names are checked here. */
function servicesSchema(options: SchemaOptions, allowNone = false): z.ZodType<ServiceConfig[], unknown> {
  // One schema for every service: one per service cost ~0.3 ms and ~25 KiB of garbage each, which
  // stayed in the RSS at 1,000 services (docs/benchmarks.md).
  const service = serviceSchema(options);
  return z.unknown().transform((value, ctx): ServiceConfig[] => {
    if (value === null || (isMap(value) && Object.keys(value).length === 0)) {
      // With discovery: the labelled containers may be the only services.
      if (allowNone) return [];
      report(ctx, 'no services defined; add at least one, e.g. "web: {listen: 80, container: web}"');
      return z.NEVER;
    }
    if (!isMap(value)) {
      report(ctx, `expected a map of service name to service, got ${show(value)}`);
      return z.NEVER;
    }
    const services: ServiceConfig[] = [];
    let failed = false;
    for (const [name, body] of Object.entries(value)) {
      const validName = parseServiceName(name);
      if (!validName.ok) {
        report(ctx, validName.message, [name], 'key');
        failed = true;
      }
      const parsed = delegate(service, body, ctx, [name]);
      if (parsed === undefined) failed = true;
      else services.push({ name, ...parsed });
    }
    return failed ? z.NEVER : services;
  });
}

const controlShape = (options: SchemaOptions) => ({
  listen: field((v) => parseControlAddress(v, options.baseDir)),
  token: field((v): Parsed<string> => (typeof v === 'string' && /^\S+$/.test(v)
    ? ok(v)
    // Never echo the token itself: messages end up in logs.
    : fail(`expected a token without spaces, got ${typeof v !== 'string' ? show(v) : v === '' ? '""' : 'text with spaces'}`))).optional(),
  socketMode: field(parseSocketMode).optional(),
  tokenFile: field((v) => parseTokenFile(v, options.baseDir)).optional(),
  insecureNoToken: field(parseInsecureNoToken).optional(),
});

function controlSchema(options: SchemaOptions): z.ZodType<ControlConfig, unknown> {
  return z.preprocess(controlMap, z.strictObject(controlShape(options))
    .transform((c): ControlConfig => ({
      listen: controlListen(c.listen, c.socketMode), token: c.token,
      ...(c.tokenFile === undefined ? {} : { tokenFile: c.tokenFile }),
      ...(c.insecureNoToken === undefined ? {} : { insecureNoToken: c.insecureNoToken }),
    })));
}

/** `control: ADDR` is short for `control: {listen: ADDR}`; anything else is left as written. */
export function controlMap(value: unknown): unknown {
  return typeof value === 'string' || typeof value === 'number' ? { listen: value } : value;
}

const ROOT_KEYS = ['engine', 'control', 'http', 'discovery', 'services'] as const;

/**
 * The whole file (after `x-` extension keys are dropped), as a PortwakeConfig minus `source`. With
 * `discovery:`, `services:` may be left out or empty.
 */
export function configSchema(options: SchemaOptions = {}): z.ZodType<Omit<PortwakeConfig, 'source'>, unknown> {
  const root = (discovering: boolean) => z.strictObject({
    engine: field(parseEngineHost).optional(),
    control: controlSchema(options).optional(),
    http: httpSchema(listenSchema(options)).optional(),
    discovery: discoverySchema.optional(),
    services: discovering ? servicesSchema(options, true).optional() : servicesSchema(options),
  }).transform((c) => ({
    services: c.services ?? [], engineHost: c.engine, control: c.control,
    ...(c.http === undefined ? {} : { http: c.http }),
    ...(c.discovery === undefined ? {} : { discovery: c.discovery }),
  }));
  const plain = root(false);
  const discovering = root(true);
  return z.unknown().transform((value, ctx) => {
    const parsed = delegate(isMap(value) && value.discovery !== undefined ? discovering : plain, value, ctx);
    return parsed ?? z.NEVER;
  });
}

/** The keys a map at this path may have, for "did you mean" on unknown keys. */
export function knownKeys(path: readonly PropertyKey[]): readonly string[] {
  const [first, , third, fourth] = path;
  if (path.length === 0) return ROOT_KEYS;
  if (path.length === 1 && first === 'control') return Object.keys(controlShape({}));
  if (path.length === 1 && first === 'http') return Object.keys(httpShape(listenSchema({})));
  if (path.length === 1 && first === 'discovery') return Object.keys(DISCOVERY_SHAPE);
  if (path.length === 2 && first === 'discovery' && path[1] === 'docker') return Object.keys(DOCKER_DISCOVERY_SHAPE);
  if (first !== 'services') return [];
  if (path.length === 2) return Object.keys(serviceShape({}));
  if (path.length === 3 && third === 'ready') return Object.keys(READY_MAP_SHAPE);
  if (path.length === 4 && third === 'ready' && fourth === 'http') return Object.keys(HTTP_READY_SHAPE);
  return [];
}
