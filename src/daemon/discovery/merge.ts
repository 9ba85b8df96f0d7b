// The services portwake runs with discovery on: the file's, then each labelled container's in the
// order they were found — unless its service name or a listen address is taken already (by the
// file, the control API or an earlier container): such a clash is reported, naming the container,
// its label and the other owner, and the later one is not served. Never resolved silently. Pure.

import { overlaps, type Address } from '../../config/listen-overlap.ts';
import type { LabelProblem } from '../../config/labels.ts';
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
  for (const s of file.services) {
    names.set(s.name, `service "${s.name}" of ${fileName}`);
    for (const l of s.listen) claims.push({ what: `service "${s.name}" of ${fileName}`, address: l, text: l.text });
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
    if (problems.length > 0) {
      clashes.push(...problems);
      continue;
    }
    served.push(c);
    const whose = `service "${s.name}" (container "${c.container}"${c.engine === undefined ? '' : ` on engine "${c.engine}"`})`;
    names.set(s.name, whose);
    for (const l of s.listen) claims.push({ what: whose, address: l, text: l.text });
  }
  return { config: { ...file, services: [...file.services, ...served.map((c) => c.service)] }, served, clashes };
}
