// The zod schema of portwake.yaml: shapes, unknown keys, required keys and every field's syntax.
// Rules that relate fields to each other live in rules.ts, so each is checked even when an
// unrelated field of the same service is wrong.

import { z } from 'zod';
import { DEFAULTS, type ControlConfig, type ListenSpec, type PortwakeConfig, type ServiceConfig } from './types.ts';
import { controlListen, parseControlAddress, parseInsecureNoToken, parseTokenFile } from './control-address.ts';
import { commandConfig, parseArgv, parseProviderName } from './command.ts';
import { discoverySchema, DISCOVERY_SHAPE, DOCKER_DISCOVERY_SHAPE } from './discovery.ts';
import { parseDuration } from './duration.ts';
import { parseEndpoint } from './endpoint.ts';
import { parseHosts } from './hosts.ts';
import { httpSchema, httpShape, parsePaths, parseStrategy } from './http.ts';
import { parseEngineHost } from './engine-host.ts';
import { ENGINE_SHAPE_KEYS, enginesSchema, parseEngineName, TLS_SHAPE_KEYS } from './engines.ts';
import { parsePort } from './host-port.ts';
import { parseListenAddress } from './listen-address.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import { HTTP_READY_SHAPE, READY_MAP_SHAPE, readySchema } from './ready.ts';
import type { ReadySpec } from './types.ts';
import { parseSocketMode } from './socket-mode.ts';
import { tlsSchema, tlsShape } from './tls.ts';
import { WAKE_ALLOW_SHAPE, WAKE_DENY_SHAPE, WAKE_SHAPE, wakeSchema } from './wake.ts';
import { delegate, field, isMap, report } from './zod-field.ts';

export const SERVICE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export interface SchemaOptions {
  /** Directory relative unix: paths resolve against; undefined (the config file): they are errors. */
  baseDir?: string | undefined;
  /** The daemon's environment gives it a control token (PORTWAKE_TOKEN, a systemd credential). */
  tokenFromEnvironment?: boolean | undefined;
  /**
   * The services given are some of a larger set (a labelled container, validated alone): the rules
   * about the whole set (dependsOn names and cycles, a service without listen: being a dependency)
   * are left to the caller (daemon/discovery/merge.ts).
   */
  oneOfMany?: boolean | undefined;
  /** With oneOfMany: the routers the rest of the config has (its top-level http: and tls:), which hosts: needs. */
  routers?: { http: boolean; tls: boolean } | undefined;
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

/** `container:` — one container, or a group (a list) started and stopped together; the first takes the traffic. */
export function parseContainers(value: unknown): Parsed<string[]> {
  if (!Array.isArray(value)) {
    const one = parseContainerName(value);
    return one.ok ? ok([one.value]) : one;
  }
  if (value.length === 0) return fail('expected a container name or a non-empty list of them, got []');
  const names: string[] = [];
  for (const [i, item] of value.entries()) {
    const one = parseContainerName(item);
    if (!one.ok) return fail(`[${i}]: ${one.message}`);
    if (names.includes(one.value)) return fail(`[${i}]: container ${show(one.value)} is listed twice`);
    names.push(one.value);
  }
  return ok(names);
}

/** `dependsOn:` — one service name or a list of them (checked against the services in rules.ts). */
export function parseDependsOn(value: unknown): Parsed<string[]> {
  const items: unknown[] = Array.isArray(value) ? value : [value];
  const names: string[] = [];
  for (const [i, item] of items.entries()) {
    const where = Array.isArray(value) ? `[${i}]: ` : '';
    if (typeof item !== 'string' || !SERVICE_NAME.test(item)) return fail(`${where}expected a service name, got ${show(item)}`);
    if (names.includes(item)) return fail(`${where}service ${show(item)} is listed twice`);
    names.push(item);
  }
  return ok(names);
}

/** `restartPolicy:` — `manage` sets the containers' restart policy to "no"; `keep` leaves it (and warns about always/unless-stopped). */
export function parseRestartPolicy(value: unknown): Parsed<'manage' | 'keep'> {
  return value === 'manage' || value === 'keep'
    ? ok(value)
    : fail(`expected "manage" (portwake sets the containers' restart policy to "no") or "keep" (left as it is, with a warning for always/unless-stopped), got ${show(value)}`);
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

const idleAction = field((v): Parsed<'stop' | 'pause'> => (v === 'stop' || v === 'pause'
  ? ok(v)
  : fail(`expected "stop" (stop the idle container) or "pause" (freeze it; the next connection unpauses it), got ${show(v)}`)));

function serviceShape(options: SchemaOptions) {
  return {
    listen: listenSchema(options).optional(),
    hosts: field(parseHosts).optional(),
    paths: field(parsePaths).optional(),
    strategy: field(parseStrategy).optional(),
    socketMode: field(parseSocketMode).optional(),
    provider: field(parseProviderName).optional(),
    // Required for a Docker service, not allowed for a command service: rules.ts says which.
    container: field(parseContainers).optional(),
    dependsOn: field(parseDependsOn).optional(),
    restartPolicy: field(parseRestartPolicy).optional(),
    run: field(parseArgv).optional(),
    start: field(parseArgv).optional(),
    stop: field(parseArgv).optional(),
    status: field(parseArgv).optional(),
    port: field(parsePort).optional(),
    upstream: field((v) => parseEndpoint(v, options.baseDir)).optional(),
    ready: readySchema.optional(),
    startTimeout: duration().optional(),
    idleTimeout: idleTimeout.optional(),
    stopTimeout: duration({ zero: true, wholeSeconds: true }).optional(),
    maxConnections: field(parsePositiveInteger).optional(),
    maxPending: field(parsePositiveInteger).optional(),
    idleOn: idleOn.optional(),
    idleAction: idleAction.optional(),
    stopAfter: duration().optional(),
    holdTimeout: duration().optional(),
    maxHeldBytes: field(parsePositiveInteger).optional(),
    halfCloseTimeout: field((v): Parsed<number | null> => (v === 'never' ? ok(null) : parseDuration(v))).optional(),
    startLimitBurst: field(parseStartLimitBurst).optional(),
    startLimitInterval: duration().optional(),
    startBackoffMax: duration().optional(),
    wake: wakeSchema.optional(),
    tlsPort: field(parsePort).optional(),
    proxyProtocol: field(parseProxyProtocol).optional(),
    engine: field(parseEngineName).optional(),
  };
}

type ServiceBody = Omit<ServiceConfig, 'name' | 'container'> & { container: string | undefined };

/**
 * One service's body; its name (the key) is added by servicesSchema, and with it the container of a
 * command service (named after the service). A service whose provider keys do not fit together
 * fails in rules.ts, which says why.
 */
function serviceSchema(options: SchemaOptions): z.ZodType<ServiceBody, unknown> {
  return z.strictObject(serviceShape(options)).transform((s, ctx): ServiceBody => {
    const command = s.provider === 'command' ? commandConfig(s) : undefined;
    const fits = s.provider === 'command'
      ? command !== undefined && s.container === undefined && s.upstream !== undefined && s.ready?.kind !== 'health'
      : s.container !== undefined && s.run === undefined && s.start === undefined && s.stop === undefined && s.status === undefined;
    // A missing listen: is checked with dependsOn (stack-rules.ts): a dependency or a hosts: service needs none.
    if (!fits) {
      ctx.issues.push({ code: 'custom', message: 'provider keys do not fit (reported by the rules)', input: undefined, path: [], params: { silent: true } });
      return z.NEVER;
    }
    return serviceBody(s, command);
  });
}

function serviceBody(s: z.output<z.ZodObject<ReturnType<typeof serviceShape>>>, command: ServiceBody['command']): ServiceBody {
  return {
    listen: (s.listen ?? []).map((l) => (l.kind === 'unix' ? { ...l, mode: s.socketMode } : l)),
    ...(s.hosts === undefined ? {} : { hosts: s.hosts }),
    ...(s.paths === undefined ? {} : { paths: s.paths }),
    ...(s.strategy === undefined ? {} : { strategy: s.strategy }),
    // The first container takes the traffic; the others (a group) start and stop with it.
    container: s.container?.[0],
    ...(s.container !== undefined && s.container.length > 1 ? { members: s.container.slice(1) } : {}),
    ...(command === undefined ? {} : { command }),
    ...(s.dependsOn === undefined ? {} : { dependsOn: s.dependsOn }),
    ...(s.restartPolicy === undefined ? {} : { restartPolicy: s.restartPolicy }),
    port: s.port,
    upstream: s.upstream,
    // A default, marked so: behind the HTTP router it becomes "any HTTP answer" (configSchema).
    ready: s.ready ?? defaultReady(),
    startTimeoutMs: s.startTimeout ?? DEFAULTS.startTimeoutMs,
    idleTimeoutMs: s.idleTimeout,
    stopTimeoutMs: s.stopTimeout ?? DEFAULTS.stopTimeoutMs,
    maxConnections: s.maxConnections ?? DEFAULTS.maxConnections,
    maxPending: s.maxPending ?? DEFAULTS.maxPending,
    // Set only when given (the defaults are applied where they are used: see DEFAULTS).
    ...(s.idleOn === undefined ? {} : { idleOn: s.idleOn }),
    ...(s.idleAction === undefined ? {} : { idleAction: s.idleAction }),
    ...(s.stopAfter === undefined ? {} : { stopAfterMs: s.stopAfter }),
    ...(s.holdTimeout === undefined ? {} : { holdTimeoutMs: s.holdTimeout }),
    ...(s.maxHeldBytes === undefined ? {} : { maxHeldBytes: s.maxHeldBytes }),
    ...(s.halfCloseTimeout === undefined ? {} : { halfCloseTimeoutMs: s.halfCloseTimeout }),
    // Set only when given: the activation applies the defaults (START_LIMIT_DEFAULTS).
    ...(s.startLimitBurst === undefined ? {} : { startLimitBurst: s.startLimitBurst }),
    ...(s.startLimitInterval === undefined ? {} : { startLimitIntervalMs: s.startLimitInterval }),
    ...(s.startBackoffMax === undefined ? {} : { startBackoffMaxMs: s.startBackoffMax }),
    ...(s.wake === undefined ? {} : { wake: s.wake }),
    ...(s.tlsPort === undefined ? {} : { tlsPort: s.tlsPort }),
    ...(s.proxyProtocol === undefined ? {} : { proxyProtocol: s.proxyProtocol }),
    ...(s.engine === undefined ? {} : { engine: s.engine }),
  };
}

/** Readiness specs made by default (no `ready:`), one object per service, told apart by identity. */
const defaultedReady = new WeakSet<object>();

function defaultReady(): ReadySpec {
  const spec: ReadySpec = { kind: 'tcp' };
  defaultedReady.add(spec);
  return spec;
}

/** The default readiness of a service with `hosts:` behind the HTTP router: GET / answered with any status. */
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
      else services.push({ name, ...parsed, container: parsed.container ?? name });
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

const ROOT_KEYS = ['engine', 'engines', 'control', 'http', 'tls', 'restartPolicy', 'discovery', 'services'] as const;

/** `proxyProtocol:` — the PROXY protocol header version sent to the upstream first. */
function parseProxyProtocol(value: unknown): Parsed<'v1' | 'v2'> {
  const v = typeof value === 'number' ? `v${value}` : typeof value === 'string' ? value.trim().toLowerCase() : undefined;
  return v === 'v1' || v === 'v2' ? ok(v) : fail(`expected v1 (text) or v2 (binary), got ${show(value)}`);
}

/**
 * The whole file (after `x-` extension keys are dropped), as a PortwakeConfig minus `source`. With
 * `discovery:`, `services:` may be left out or empty.
 */
export function configSchema(options: SchemaOptions = {}): z.ZodType<Omit<PortwakeConfig, 'source'>, unknown> {
  const root = (discovering: boolean) => z.strictObject({
    engine: field(parseEngineHost).optional(),
    engines: enginesSchema(options).optional(),
    control: controlSchema(options).optional(),
    http: httpSchema(listenSchema(options)).optional(),
    tls: tlsSchema(listenSchema(options)).optional(),
    restartPolicy: field(parseRestartPolicy).optional(),
    discovery: discoverySchema.optional(),
    services: discovering ? servicesSchema(options, true).optional() : servicesSchema(options),
  }).transform((c) => {
    const policy = c.restartPolicy;
    const routed = c.http !== undefined || options.routers?.http === true;
    const services = c.services ?? [];
    return {
      // (Not an array when a service failed: zod runs this transform anyway, and the result is discarded.)
      services: !Array.isArray(services) ? services : services.map((s): ServiceConfig => ({
        ...s,
        // The top-level restartPolicy is every service's default.
        ...(policy !== undefined && s.restartPolicy === undefined ? { restartPolicy: policy } : {}),
        // Behind the HTTP router any HTTP answer means the app is up (one answering 401 or 404 on / too).
        ...(routed && s.hosts !== undefined && defaultedReady.has(s.ready) ? { ready: HTTP_ANY_STATUS } : {}),
      })),
      engineHost: c.engine,
      ...(c.engines === undefined ? {} : { engines: c.engines }),
      control: c.control,
      ...(c.http === undefined ? {} : { http: c.http }),
      ...(c.tls === undefined ? {} : { tls: c.tls }),
      ...(c.discovery === undefined ? {} : { discovery: c.discovery }),
    };
  });
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
  if (path.length === 1 && first === 'tls') return Object.keys(tlsShape(listenSchema({})));
  if (first === 'engines' && path.length === 2) return ENGINE_SHAPE_KEYS;
  if (first === 'engines' && path.length === 3 && path[2] === 'tls') return TLS_SHAPE_KEYS;
  if (path.length === 1 && first === 'discovery') return Object.keys(DISCOVERY_SHAPE);
  if (path.length === 2 && first === 'discovery' && path[1] === 'docker') return Object.keys(DOCKER_DISCOVERY_SHAPE);
  if (first !== 'services') return [];
  if (path.length === 2) return Object.keys(serviceShape({}));
  if (path.length === 3 && third === 'ready') return Object.keys(READY_MAP_SHAPE);
  if (path.length === 4 && third === 'ready' && fourth === 'http') return Object.keys(HTTP_READY_SHAPE);
  if (path.length === 3 && third === 'wake') return Object.keys(WAKE_SHAPE);
  if (path.length === 4 && third === 'wake') return Object.keys(fourth === 'allow' ? WAKE_ALLOW_SHAPE : fourth === 'deny' ? WAKE_DENY_SHAPE : {});
  return [];
}
