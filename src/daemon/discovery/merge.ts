// The services portwake runs with discovery on: the file's, then each labelled container's in the
// order they were found — unless its service name or a listen address is taken already (by the
// file, the control API or an earlier container): such a clash is reported, naming the container,
// its label and the other owner, and the later one is not served. Never resolved silently. Pure.

import { overlaps, type Address } from '../../config/listen-overlap.ts';
import type { LabelProblem } from '../../config/labels.ts';
import { formatHostPattern } from '../../config/hosts.ts';
import { stackIssues } from '../../config/stack-rules.ts';
import type { PortwakeConfig, ServiceConfig } from '../../config/types.ts';

/** A labelled container's valid service. */
export interface Candidate {
  /** The container's id and name. */
  id: string;
  container: string;
  /** The container's engine, when it is not the default one. */
  engine?: string;
  service: ServiceConfig;
  /** The label a service key came from ('name': the name label, when there is one). */
  labelOf(key: string): string | undefined;
}

export interface Merged {
  config: PortwakeConfig;
  /** The candidates served. */
  served: Candidate[];
  clashes: LabelProblem[];
}

interface Owner { what: string; address: Address; text: string }

export function mergeDiscovered(file: PortwakeConfig, candidates: readonly Candidate[], fileName: string): Merged {
  const names = new Map<string, string>();
  const claims: Owner[] = [];
  const control = file.control?.listen;
  if (control !== undefined) {
    claims.push({ what: 'the control API', address: control, text: control.kind === 'unix' ? `unix:${control.path}` : `${control.host}:${control.port}` });
  }
  for (const l of file.http?.listen ?? []) claims.push({ what: 'the HTTP router', address: l, text: l.text });
  for (const l of file.tls?.listen ?? []) claims.push({ what: 'the TLS router', address: l, text: l.text });
  const routes = new Routes(file.tls !== undefined);
  for (const s of file.services) {
    names.set(s.name, `service "${s.name}" of ${fileName}`);
    for (const l of s.listen) claims.push({ what: `service "${s.name}" of ${fileName}`, address: l, text: l.text });
    routes.claim(s, `service "${s.name}" of ${fileName}`);
  }
  const served: Candidate[] = [];
  const clashes: LabelProblem[] = [];
  for (const c of candidates) {
    const problems: LabelProblem[] = [];
    const s = c.service;
    const at = c.engine === undefined ? {} : { engine: c.engine };
    const taken = names.get(s.name);
    if (taken !== undefined) {
      const label = c.labelOf('name');
      problems.push({
        container: c.container, ...at,
        label,
        message: `service name "${s.name}"${label === undefined ? ' (its compose service or container name)' : ''} is taken by ${taken}; not served`,
      });
    }
    for (const l of s.listen) {
      const other = claims.find((o) => overlaps(o.address, l));
      if (other === undefined) continue;
      const what = other.text === l.text ? `is also used by ${other.what}` : `overlaps "${other.text}" of ${other.what}`;
      problems.push({ container: c.container, ...at, label: c.labelOf('listen'), message: `"${l.text}" ${what}; not served` });
    }
    for (const message of routes.clashes(s)) problems.push({ container: c.container, ...at, label: c.labelOf('hosts'), message: `${message}; not served` });
    if (problems.length > 0) {
      clashes.push(...problems);
      continue;
    }
    served.push(c);
    const whose = `service "${s.name}" (container "${c.container}"${c.engine === undefined ? '' : ` on engine "${c.engine}"`})`;
    names.set(s.name, whose);
    for (const l of s.listen) claims.push({ what: whose, address: l, text: l.text });
    routes.claim(s, whose);
  }
  const stacked = withStackRules(file.services, served, clashes);
  return { config: { ...file, services: [...file.services, ...stacked.map((c) => c.service)] }, served: stacked, clashes };
}

/**
 * Host names claimed so far: a host and path (the HTTP router routes by both) and, with the TLS
 * router, a host alone (it sees no path) belong to one service.
 */
class Routes {
  readonly #byPath = new Map<string, string>();
  readonly #byHost = new Map<string, string>();

  constructor(private readonly tls: boolean) {}

  claim(s: ServiceConfig, whose: string): void {
    for (const h of s.hosts ?? []) {
      const host = formatHostPattern(h);
      if (!this.#byHost.has(host)) this.#byHost.set(host, whose);
      for (const p of s.paths ?? ['/']) if (!this.#byPath.has(`${host} ${p}`)) this.#byPath.set(`${host} ${p}`, whose);
    }
  }

  /** What `s`'s hosts clash with, one message each. */
  clashes(s: ServiceConfig): string[] {
    const out: string[] = [];
    for (const h of s.hosts ?? []) {
      const host = formatHostPattern(h);
      const byPath = (s.paths ?? ['/']).map((p) => [p, this.#byPath.get(`${host} ${p}`)] as const).find(([, owner]) => owner !== undefined);
      const owner = byPath?.[1];
      if (byPath !== undefined && owner !== undefined) {
        out.push(`${byPath[0] === '/' ? `host "${host}"` : `host "${host}" path "${byPath[0]}"`} is claimed by ${owner}`);
        continue;
      }
      const other = this.tls ? this.#byHost.get(host) : undefined;
      if (other !== undefined) out.push(`host "${host}" is a host of ${other} (the TLS router sees the host name only)`);
    }
    return out;
  }
}

/**
 * The rules about the whole set, now that every container is known (config/stack-rules.ts): each
 * depends-on name is a service, there is no cycle, and a service without listen is some service's
 * dependency. A container at fault is reported and not served; its dependents are checked again
 * without it (and fail in turn, naming it).
 */
function withStackRules(fileServices: readonly ServiceConfig[], candidates: readonly Candidate[], clashes: LabelProblem[]): Candidate[] {
  let served = [...candidates];
  for (;;) {
    const all = [...fileServices, ...served.map((c) => c.service)];
    // What the rules read of each service, as the file would have it.
    const raw = Object.fromEntries(all.map((s) => [s.name, {
      ...(s.dependsOn === undefined ? {} : { dependsOn: s.dependsOn }),
      ...(s.listen.length === 0 ? {} : { listen: s.listen.map((l) => l.text) }),
      ...(s.hosts === undefined ? {} : { hosts: s.hosts }),
      ...(s.idleOn === undefined ? {} : { idleOn: s.idleOn }),
    }]));
    const byName = new Map(served.map((c) => [c.service.name, c]));
    const faulty = new Set<Candidate>();
    for (const issue of stackIssues(raw)) {
      const [, name, key] = issue.path;
      const c = typeof name === 'string' ? byName.get(name) : undefined;
      if (c === undefined) continue;
      faulty.add(c);
      clashes.push({ container: c.container, ...(c.engine === undefined ? {} : { engine: c.engine }), label: typeof key === 'string' ? c.labelOf(key) : undefined, message: `${issue.message}; not served` });
    }
    if (faulty.size === 0) return served;
    served = served.filter((c) => !faulty.has(c));
  }
}
