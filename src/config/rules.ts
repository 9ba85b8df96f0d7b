// Rules that relate fields to each other: no two listeners on one address, a token for a control
// API reachable from the network, no settings that would silently do nothing. Each rule reads the
// raw data with the same field parsers as the schema, so it runs whenever the fields it needs are
// valid, however broken the rest of the file is (and never repeats a field's own error).

import { formatMs } from '../core/errors.ts';
import { COMMAND_KEYS, parseArgv, parseProviderName } from './command.ts';
import { parseControlAddress } from './control-address.ts';
import { parseDuration } from './duration.ts';
import { parseEndpoint } from './endpoint.ts';
import { knownEngineNames, parseEngineName } from './engines.ts';
import { isLoopback, parsePort } from './host-port.ts';
import { parseListenAddress } from './listen-address.ts';
import { httpIssues } from './http-rules.ts';
import { findOverlaps, overlaps, type Claim } from './listen-overlap.ts';
import type { Locator, RawIssue } from './locator.ts';
import { show } from './parsed.ts';
import { readySchema } from './ready.ts';
import { didYouMean } from './suggest.ts';
import { parseSocketMode } from './socket-mode.ts';
import { controlMap, type SchemaOptions } from './schema.ts';
import { stackIssues } from './stack-rules.ts';
import { tlsIssues } from './tls.ts';
import { DEFAULTS } from './types.ts';
import { isMap } from './zod-field.ts';

export function crossFieldIssues(root: Record<string, unknown>, options: SchemaOptions, locator: Locator): RawIssue[] {
  const issues: RawIssue[] = [];
  const claims: Claim[] = [];
  const control = controlMap(root.control);
  if (isMap(control)) issues.push(...controlIssues(control, options, claims));
  if (isMap(root.services)) {
    for (const [name, service] of Object.entries(root.services)) {
      if (isMap(service)) issues.push(...serviceIssues(name, service, options, claims));
      if (isMap(service)) issues.push(...engineIssues(name, service, knownEngineNames(root.engines)));
    }
    if (options.oneOfMany !== true) issues.push(...stackIssues(root.services));
  }
  issues.push(...httpIssues(root, options, claims, locator));
  issues.push(...tlsIssues(root, options, claims));
  for (const { claim, earlier } of findOverlaps(claims)) {
    const whose = earlier.owner === undefined ? earlier.label ?? 'the control API'
      : earlier.owner === claim.owner ? 'this service' : `service "${earlier.owner}"`;
    const what = claim.text === earlier.text ? `is also used by ${whose}` : `overlaps "${earlier.text}" of ${whose}`;
    issues.push({ path: claim.path, at: 'value', message: `"${claim.text}" ${what} (${locator.reference(earlier.path)})` });
  }
  if (isMap(root.services)) issues.push(...loopIssues(root.services, options, claims, locator));
  return issues;
}

/**
 * An upstream on this machine that is one of portwake's own listeners (a service's, the routers',
 * the control API's): its connections would come back into portwake, never reaching the app.
 */
function loopIssues(services: Record<string, unknown>, options: SchemaOptions, claims: readonly Claim[], locator: Locator): RawIssue[] {
  const issues: RawIssue[] = [];
  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service) || service.upstream === undefined) continue;
    const upstream = parseEndpoint(service.upstream, options.baseDir);
    if (!upstream.ok) continue;
    const u = upstream.value;
    const mine = claims.find((c) => (u.kind === 'unix' ? c.address.kind === 'unix' && c.address.path === u.path
      : isLoopback(u.host) && overlaps(c.address, { kind: 'tcp', host: u.host, port: u.port })));
    if (mine === undefined) continue;
    const whose = mine.owner === undefined ? mine.label ?? 'the control API' : mine.owner === name ? 'this service' : `service "${mine.owner}"`;
    issues.push({
      path: ['services', name, 'upstream'], at: 'value',
      message: `is portwake's own listener "${mine.text}" of ${whose} (${locator.reference(mine.path)}): its connections would come back into portwake; give the address the app itself listens on`,
    });
  }
  return issues;
}

function controlIssues(control: Record<string, unknown>, options: SchemaOptions, claims: Claim[]): RawIssue[] {
  const address = parseControlAddress(control.listen, options.baseDir);
  if (!address.ok) return [];
  const { value } = address;
  claims.push({ owner: undefined, path: ['control', 'listen'], address: value, text: value.kind === 'unix' ? `unix:${value.path}` : String(control.listen).trim() });
  if (value.kind !== 'tcp') return [];
  const issues: RawIssue[] = [];
  if (control.token === undefined && control.tokenFile === undefined && options.tokenFromEnvironment !== true && !isLoopback(value.host)) {
    issues.push({
      path: ['control', 'token'], at: 'parent',
      message: `a token is required: the control API listens on ${show(String(control.listen).trim())}, which is reachable from other machines ` +
        '(the daemon may also take it from PORTWAKE_TOKEN or the systemd credential portwake-token)',
    });
  }
  if (control.token !== undefined && control.tokenFile !== undefined) {
    issues.push({ path: ['control', 'tokenFile'], at: 'key', message: 'give either token or tokenFile, not both' });
  }
  if (parseSocketMode(control.socketMode).ok) {
    issues.push({ path: ['control', 'socketMode'], at: 'key', message: 'applies only to a unix: control socket' });
  }
  return issues;
}

/** Providers that cannot pause a process (`provider:` is the command engineer's key; checked here at config time). */
const CANNOT_PAUSE: ReadonlySet<unknown> = new Set(['command']);

/** idleAction: pause needs an idle timeout and a provider that can pause; stopAfter needs idleAction: pause. */
function pauseIssues(service: Record<string, unknown>, at: (...rest: PropertyKey[]) => PropertyKey[]): RawIssue[] {
  const issues: RawIssue[] = [];
  const pause = service.idleAction === 'pause';
  if (pause && CANNOT_PAUSE.has(service.provider)) {
    issues.push({ path: at('idleAction'), at: 'value', message: `"pause" needs a provider that can pause; ${String(service.provider)} cannot (use idleAction: stop)` });
  }
  if (pause && (service.idleTimeout === undefined || service.idleTimeout === 'never')) {
    issues.push({ path: at('idleAction'), at: 'key', message: 'has no effect without idleTimeout (the service is never idle): add one, e.g. "idleTimeout: 5m"' });
  }
  if (service.stopAfter !== undefined && !pause && parseDuration(service.stopAfter).ok) {
    issues.push({ path: at('stopAfter'), at: 'key', message: 'applies only with "idleAction: pause" (it stops a container paused that long)' });
  }
  return issues;
}

function serviceIssues(name: string, service: Record<string, unknown>, options: SchemaOptions, claims: Claim[]): RawIssue[] {
  const issues: RawIssue[] = [];
  const at = (...rest: PropertyKey[]): PropertyKey[] => ['services', name, ...rest];
  const list = Array.isArray(service.listen) ? service.listen : service.listen === undefined ? [] : [service.listen];
  const specs = list.map((item, i) => {
    const spec = parseListenAddress(item, { baseDir: options.baseDir });
    if (spec.ok) {
      claims.push({ owner: name, path: Array.isArray(service.listen) ? at('listen', i) : at('listen'), address: spec.value, text: spec.value.text });
    }
    return spec;
  });

  if (parseSocketMode(service.socketMode).ok && specs.length > 0 && specs.every((s) => s.ok && s.value.kind !== 'unix')) {
    issues.push({ path: at('socketMode'), at: 'key', message: 'applies only to unix: listeners, and this service has none' });
  }
  if (service.port !== undefined && parsePort(service.port).ok && parseEndpoint(service.upstream, options.baseDir).ok) {
    issues.push({ path: at('port'), at: 'key', message: 'has no effect when "upstream" is set; remove one of them' });
  }
  issues.push(...pauseIssues(service, at));
  issues.push(...providerIssues(service, at));
  if (isMap(service.ready) && service.ready.delay !== undefined) {
    const delay = parseDuration(service.ready.delay, { zero: true });
    const start = service.startTimeout === undefined ? { ok: true as const, value: DEFAULTS.startTimeoutMs } : parseDuration(service.startTimeout);
    if (delay.ok && start.ok && delay.value >= start.value) {
      issues.push({
        path: at('ready', 'delay'), at: 'value',
        message: `${show(service.ready.delay)} is not shorter than startTimeout (${formatMs(start.value)}), so the service could never become ready`,
      });
    }
  }
  return issues;
}

/**
 * What `provider:` asks of the other keys. A Docker service (the default) needs container: and has
 * no run:/start:/stop:/status:; a command service has run: or all of start:, stop: and status:,
 * an upstream: (where its process listens), no container: and no ready: health.
 */
function providerIssues(service: Record<string, unknown>, at: (...rest: PropertyKey[]) => PropertyKey[]): RawIssue[] {
  const provider = service.provider === undefined ? ({ ok: true, value: 'docker' } as const) : parseProviderName(service.provider);
  if (!provider.ok) return [];
  const given = COMMAND_KEYS.filter((k) => service[k] !== undefined);
  if (provider.value === 'docker') {
    const issues: RawIssue[] = given.map((k) => ({
      path: at(k), at: 'key' as const,
      message: `applies only to a command service; add provider: command (portwake runs the process) or remove it`,
    }));
    if (service.container === undefined) issues.push({ path: at('container'), at: 'parent', message: 'is required (the name of the container to start)' });
    return issues;
  }
  const issues: RawIssue[] = [];
  const valid = given.filter((k) => parseArgv(service[k]).ok);
  if (service.run !== undefined && given.some((k) => k !== 'run')) {
    for (const k of given.filter((g) => g !== 'run')) {
      issues.push({ path: at(k), at: 'key', message: 'give either run: (a process portwake owns) or start:, stop: and status: (commands for an outside manager), not both' });
    }
  } else if (service.run === undefined) {
    if (given.length === 0) {
      issues.push({ path: at('run'), at: 'parent', message: 'is required for a command service: run: [program, args…] (a process portwake owns), or start:, stop: and status: (commands for an outside manager)' });
    } else if (valid.length === given.length) {
      for (const k of (['start', 'stop', 'status'] as const).filter((m) => service[m] === undefined)) {
        issues.push({ path: at(k), at: 'parent', message: `is required with ${given.map((g) => `${g}:`).join(' and ')} (start:, stop: and status: go together; status: exits 0 while the service runs)` });
      }
    }
  }
  if (service.upstream === undefined) {
    issues.push({ path: at('upstream'), at: 'parent', message: 'is required for a command service: where its process listens, e.g. "127.0.0.1:8080" or "unix:/run/app.sock"' });
  }
  if (service.container !== undefined) {
    issues.push({ path: at('container'), at: 'key', message: 'is not used by a command service (the process is the service, named after it); remove it, or use provider: docker' });
  }
  if (service.engine !== undefined) {
    issues.push({ path: at('engine'), at: 'key', message: 'is not used by a command service (its process runs on this machine, not on an engine); remove it, or use provider: docker' });
  }
  const ready = readySchema.safeParse(service.ready);
  if (service.ready !== undefined && ready.success && ready.data.kind === 'health') {
    issues.push({ path: at('ready'), at: 'value', message: 'health needs a container HEALTHCHECK, which a command service has not; use tcp, http, {http: /path} or {delay: 1s}' });
  }
  return issues;
}

/** A service's engine: must be "default" or a key of engines:. */
function engineIssues(name: string, service: Record<string, unknown>, known: readonly string[]): RawIssue[] {
  const engine = parseEngineName(service.engine);
  if (!engine.ok || known.includes(engine.value)) return [];
  return [{
    path: ['services', name, 'engine'], at: 'value',
    message: `service "${name}" names engine "${engine.value}", which is not defined (known engines: ${known.join(', ')}); define it under engines:${didYouMean(engine.value, known)}`,
  }];
}
