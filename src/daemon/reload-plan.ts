// What a reload changes: per service, whether it is kept, updated in place or replaced, which
// running listening sockets it takes over, which addresses must be bound anew (and which of those
// must wait for a running listener to close first), and which running listeners are closed. Pure.

import { overlaps } from '../config/listen-overlap.ts';
import type { ListenSpec, PortwakeConfig, ServiceConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import type { ReloadResult } from '../core/status.ts';

export type ReloadAction =
  /** Identical: untouched. */
  | 'keep'
  /** Same container and upstream: timeouts, limits, readiness and listeners change in place; every connection stays. */
  | 'update'
  /** The engine, container, port or upstream changed: a new service takes over the kept addresses, the old one drains. */
  | 'replace'
  | 'add';

export type BindSpec = Exclude<ListenSpec, { kind: 'systemd' }>;

export interface ServicePlan {
  config: ServiceConfig;
  action: ReloadAction;
  /** Keys (listenKey) of running listeners this service keeps or takes over. */
  reuse: string[];
  /** Addresses no running listener has and none closing overlaps: bound before anything closes. */
  bind: BindSpec[];
  /** Addresses overlapping a running listener that closes (e.g. 8080 → 127.0.0.1:8080): bound after it has. */
  bindLate: BindSpec[];
}

export interface Released {
  /** The running service that holds it. */
  service: string;
  key: string;
  spec: ListenSpec;
  /** A late bind overlaps it: closed before the late binds; otherwise once the reload is applied. */
  early: boolean;
}

export interface ReloadPlan {
  result: ReloadResult;
  /** Every service of the new config, in its order. */
  services: ServicePlan[];
  /** Running services no longer in the config. */
  removed: string[];
  /** Running listeners no service of the new config takes: closed. */
  release: Released[];
}

export interface PlanOptions {
  /** The daemon runs with --listen-from-systemd (for the wording of a refusal). */
  fromSystemd?: boolean;
}

/**
 * The identity of a listening socket across reloads: two listen entries with the same key are the
 * same socket, kept open. A unix socket's mode is part of it (a new mode needs a new socket file).
 */
export function listenKey(l: ListenSpec): string {
  switch (l.kind) {
    case 'tcp':
      return `tcp ${l.host === undefined ? '*' : l.host.replace(/^\[(.*)\]$/, '$1').toLowerCase()} ${l.port}`;
    case 'unix':
      return `unix ${l.mode?.toString(8) ?? '-'} ${l.path}`;
    case 'systemd':
      return `systemd ${l.name ?? '*'}`;
  }
}

/**
 * Compares the running services with the new config. Throws CONFIG_INVALID when a service asks
 * for a systemd socket portwake does not hold (systemd passes sockets only when it starts portwake).
 */
export function planReload(running: readonly ServiceConfig[], next: PortwakeConfig, o: PlanOptions = {}): ReloadPlan {
  const result: ReloadResult = { added: [], removed: [], changed: [] };
  const byName = new Map(running.map((s) => [s.name, s]));
  const held = new Map<string, { service: string; spec: ListenSpec }>();
  for (const s of running) for (const l of s.listen) held.set(listenKey(l), { service: s.name, spec: l });
  const nextNames = new Set(next.services.map((s) => s.name));
  const removed = running.filter((s) => !nextNames.has(s.name)).map((s) => s.name);
  result.removed.push(...removed);

  const taken = new Set<string>();
  const services: ServicePlan[] = [];
  const fresh: Array<{ plan: ServicePlan; specs: BindSpec[] }> = [];
  for (const s of next.services) {
    const old = byName.get(s.name);
    const action: ReloadAction = old === undefined ? 'add' : sameService(old, s) ? 'keep' : sameUpstream(old, s) ? 'update' : 'replace';
    if (action === 'add') result.added.push(s.name);
    if (action === 'update' || action === 'replace') result.changed.push(s.name);
    const plan: ServicePlan = { config: s, action, reuse: [], bind: [], bindLate: [] };
    const specs: BindSpec[] = [];
    for (const l of s.listen) {
      const key = listenKey(l);
      if (held.has(key)) {
        plan.reuse.push(key);
        taken.add(key);
      } else if (l.kind === 'systemd') {
        throw new PortwakeError('CONFIG_INVALID', systemdRefusal(next.source, s, l, action, o));
      } else {
        specs.push(l);
      }
    }
    services.push(plan);
    fresh.push({ plan, specs });
  }

  const closing = [...held].filter(([key]) => !taken.has(key));
  const overlapsClosing = (l: ListenSpec): boolean => closing.some(([, h]) => overlaps(h.spec, l));
  for (const { plan, specs } of fresh) {
    for (const l of specs) (overlapsClosing(l) ? plan.bindLate : plan.bind).push(l);
  }
  const late = fresh.flatMap(({ plan }) => plan.bindLate);
  const release = closing.map(([key, h]): Released => ({ service: h.service, key, spec: h.spec, early: late.some((l) => overlaps(h.spec, l)) }));
  return { result, services, removed, release };
}

/** Whether two service configs are the same (a reload leaves such a service untouched). */
export function sameService(a: ServiceConfig, b: ServiceConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Whether connections of `a` may go on as connections of `b`: the same engine, container (and group)
 * or command, port and upstream. A changed dependsOn is applied in place: the next start waits for the new list.
 */
export function sameUpstream(a: ServiceConfig, b: ServiceConfig): boolean {
  return (a.engine ?? 'default') === (b.engine ?? 'default') && a.container === b.container && a.port === b.port && JSON.stringify(a.upstream) === JSON.stringify(b.upstream) &&
    JSON.stringify(a.members ?? []) === JSON.stringify(b.members ?? []) && JSON.stringify(a.command) === JSON.stringify(b.command);
}

function systemdRefusal(source: string, s: ServiceConfig, l: ListenSpec, action: ReloadAction, o: PlanOptions): string {
  const how = 'systemd passes sockets only when it starts portwake, so a reload cannot take new ones';
  if (o.fromSystemd === true && action === 'add') {
    return `${source}: service "${s.name}" is new, and with --listen-from-systemd its sockets come from systemd: ${how}. ` +
      'Run "portwake generate systemd" again, install the units, then "systemctl daemon-reload" and restart portwake\'s socket and service units';
  }
  return `${source}: service "${s.name}": listen: ${l.text} is not among the sockets systemd passed to portwake: ${how}; restart portwake (systemctl restart)`;
}
