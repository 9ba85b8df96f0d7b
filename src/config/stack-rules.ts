// Rules about stacks (services that depend on others): every dependsOn name is a service, the
// dependencies form no cycle, a service without listen: is some service's dependency, and a
// dependency does not count its idleness by traffic portwake never sees.

import type { RawIssue } from './locator.ts';
import { show } from './parsed.ts';
import { parseDependsOn } from './schema.ts';
import { didYouMean } from './suggest.ts';
import { isMap } from './zod-field.ts';

export function stackIssues(services: Record<string, unknown>): RawIssue[] {
  const issues: RawIssue[] = [];
  const names = Object.keys(services);
  /** Valid edges only: a name that is not a service is reported once, here, and left out. */
  const edges = new Map<string, string[]>();
  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service) || service.dependsOn === undefined) continue;
    const parsed = parseDependsOn(service.dependsOn);
    if (!parsed.ok) continue; // the schema reports it
    const list = Array.isArray(service.dependsOn);
    const known: string[] = [];
    parsed.value.forEach((dep, i) => {
      const path = ['services', name, 'dependsOn', ...(list ? [i] : [])];
      if (names.includes(dep)) known.push(dep);
      else issues.push({ path, at: 'value', message: `no service named ${show(dep)}${didYouMean(dep, names.filter((n) => n !== name))} (known: ${names.join(', ')})` });
    });
    edges.set(name, known);
  }
  issues.push(...cycleIssues(names, edges));
  const dependents = new Map<string, string[]>();
  for (const [name, deps] of edges) for (const d of deps) dependents.set(d, [...(dependents.get(d) ?? []), name]);
  for (const [name, service] of Object.entries(services)) {
    if (!isMap(service)) continue;
    const by = dependents.get(name) ?? [];
    // A service routed by host name (hosts:) has no listen: of its own either.
    if (service.listen === undefined && service.hosts === undefined && by.length === 0) {
      issues.push({
        path: ['services', name, 'listen'], at: 'parent',
        message: 'is required (where to accept connections, e.g. "80" or "unix:/run/app.sock"; or give "hosts:" for the HTTP router) unless another service lists this one in dependsOn: nothing else would ever start it',
      });
    }
    if (service.idleOn === 'traffic' && by.length > 0) {
      issues.push({
        path: ['services', name, 'idleOn'], at: 'value',
        message: `"traffic" cannot work for a dependency: ${by.map((b) => `"${b}"`).join(', ')} reach${by.length === 1 ? 'es' : ''} it on the container network, where portwake sees no bytes; use "connections" (it stops idleTimeout after its last dependent stopped)`,
      });
    }
  }
  return issues;
}

/** One issue per cycle, at the dependsOn of the cycle's first service in file order: `cycle a → b → a`. */
function cycleIssues(names: readonly string[], edges: ReadonlyMap<string, readonly string[]>): RawIssue[] {
  const issues: RawIssue[] = [];
  const done = new Set<string>();
  const reported = new Set<string>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    if (done.has(n)) return;
    const at = stack.indexOf(n);
    if (at >= 0) {
      const cycle = stack.slice(at);
      // The same cycle is reached from each of its members: reported once, from its first in file order.
      const first = [...cycle].sort((a, b) => names.indexOf(a) - names.indexOf(b))[0] ?? n;
      const from = cycle.indexOf(first);
      const ordered = [...cycle.slice(from), ...cycle.slice(0, from)];
      const key = [...ordered].sort().join(' ');
      if (reported.has(key)) return;
      reported.add(key);
      issues.push({
        path: ['services', first, 'dependsOn'], at: 'value',
        message: `cycle ${[...ordered, first].join(' → ')}: each would wait for the other to be ready first. ` +
          'Services that reach each other through portwake\'s listeners need no dependsOn (each one wakes the next on first use); keep dependsOn for what is reached directly on the container network',
      });
      return;
    }
    stack.push(n);
    for (const d of edges.get(n) ?? []) visit(d);
    stack.pop();
    done.add(n);
  };
  for (const n of names) visit(n);
  return issues;
}
