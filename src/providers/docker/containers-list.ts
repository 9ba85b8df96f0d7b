// GET /containers/json?all=1&filters={"label":[…]}: every container (running or not) carrying the
// given labels, with all of its labels — what discovery builds services from.

import type { DockerClient } from './client.ts';
import { engineCall, INSPECT_TIMEOUT_MS } from './deadlines.ts';
import { mapDockerError } from './errors.ts';

/** A container as a label listing sees it. */
export interface ListedContainer {
  id: string;
  /** Without the leading slash. */
  name: string;
  labels: Record<string, string>;
  /** When it was created, ms since the epoch (the engine gives seconds). */
  created: number;
}

interface ListJson {
  Id?: unknown;
  Names?: unknown;
  Labels?: unknown;
  Created?: unknown;
}

/**
 * Lists the containers matching every label filter (`KEY` or `KEY=VALUE`), stopped ones included.
 * Bounded by the caller's signal and INSPECT_TIMEOUT_MS (a listing is a lookup in the engine's memory).
 */
export function listContainers(client: DockerClient, endpoint: string, labels: readonly string[], caller?: AbortSignal): Promise<ListedContainer[]> {
  return engineCall(INSPECT_TIMEOUT_MS, caller, async (signal) => {
    try {
      const api = await client();
      signal.throwIfAborted();
      const { json } = await api.call('GET', '/containers/json', { all: '1', filters: JSON.stringify(labels.length === 0 ? {} : { label: labels }) }, signal);
      if (!Array.isArray(json)) throw new Error(`the engine's container list is not a list: ${JSON.stringify(json)?.slice(0, 200) ?? 'no body'}`);
      return json.flatMap((c: ListJson) => toListed(c));
    } catch (err) {
      throw mapDockerError(err, { endpoint, operation: 'container list', signal });
    }
  });
}

/** One entry of the list; an entry without an id is skipped. Exported for tests. */
export function toListed(c: ListJson): ListedContainer[] {
  if (typeof c.Id !== 'string') return [];
  const names = Array.isArray(c.Names) ? c.Names.filter((n): n is string => typeof n === 'string') : [];
  // Names lists links too ("/other/alias"); the container's own name has a single slash.
  const own = names.find((n) => n.lastIndexOf('/') === 0) ?? names[0] ?? c.Id.slice(0, 12);
  const labels: Record<string, string> = {};
  if (typeof c.Labels === 'object' && c.Labels !== null) {
    for (const [k, v] of Object.entries(c.Labels)) if (typeof v === 'string') labels[k] = v;
  }
  return [{ id: c.Id, name: own.replace(/^\//, ''), labels, created: typeof c.Created === 'number' ? c.Created * 1000 : 0 }];
}
