// What a reload changes: the services added, removed and changed between the running config and
// the new one, and which new services must wait for a retired one to free an address. Pure.

import { overlaps } from './config/listen-overlap.ts';
import type { PortwakeConfig, ServiceConfig } from './config/types.ts';
import { PortwakeError } from './core/errors.ts';
import type { ReloadResult } from './core/status.ts';

export interface ReloadPlan {
  result: ReloadResult;
  /** Running services to close: the removed and the changed ones. */
  retire: string[];
  /** New services (added, changed) on addresses no retired service holds: bound before anything closes. */
  early: ServiceConfig[];
  /** New services on an address a retired service holds (e.g. a changed one that kept its address). */
  late: ServiceConfig[];
}

/**
 * Compares the running services with the new config. Throws CONFIG_INVALID when an added or changed
 * service asks for systemd sockets (only a restart can receive new ones).
 */
export function planReload(running: readonly ServiceConfig[], next: PortwakeConfig): ReloadPlan {
  const result: ReloadResult = { added: [], removed: [], changed: [] };
  const byName = new Map(running.map((s) => [s.name, s]));
  const nextNames = new Set(next.services.map((s) => s.name));
  const retired: ServiceConfig[] = running.filter((s) => !nextNames.has(s.name));
  result.removed.push(...retired.map((s) => s.name));
  const fresh: ServiceConfig[] = [];
  for (const s of next.services) {
    const old = byName.get(s.name);
    if (old !== undefined && sameService(old, s)) continue;
    if (s.listen.some((l) => l.kind === 'systemd')) {
      throw new PortwakeError('CONFIG_INVALID', `${next.source}: service "${s.name}": a reload cannot take new systemd sockets; restart portwake`);
    }
    if (old === undefined) {
      result.added.push(s.name);
    } else {
      result.changed.push(s.name);
      retired.push(old);
    }
    fresh.push(s);
  }
  const held = retired.flatMap((s) => s.listen);
  const waits = (s: ServiceConfig): boolean => s.listen.some((l) => held.some((h) => overlaps(h, l)));
  return {
    result,
    retire: retired.map((s) => s.name),
    early: fresh.filter((s) => !waits(s)),
    late: fresh.filter(waits),
  };
}

/** Whether two service configs are the same (a reload leaves such a service untouched). */
export function sameService(a: ServiceConfig, b: ServiceConfig): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
