// GET /events for the creation, renaming and removal of containers carrying given labels (the
// engine filters by label; each event carries the container's labels as attributes).

import type { DockerClient } from './client.ts';
import { engineEvents } from './events.ts';

export interface LabelEvent {
  kind: 'create' | 'rename' | 'destroy';
  id: string;
  /** The container's name after the event (a rename's new name). */
  name: string;
  labels: Record<string, string>;
  /** Milliseconds since the epoch, from the engine. */
  time: number;
}

const KINDS = ['create', 'rename', 'destroy'] as const;
/**
 * What the events filter asks for: Docker's names, and Podman's "remove" (its compatible API
 * filters on its own name and reports it as it is; read as destroy below). Docker matches no "remove".
 */
const ACTIONS = [...KINDS, 'remove'];
const PODMAN_ACTIONS: Readonly<Record<string, LabelEvent['kind']>> = { remove: 'destroy' };

/**
 * Streams those events until the signal aborts (the iterator returns) or the stream breaks or ends
 * (it throws ProviderUnreachableError: reconnect, then list again, since events may have been missed).
 */
export function containerLabelEvents(client: DockerClient, endpoint: string, labels: readonly string[], signal: AbortSignal): AsyncGenerator<LabelEvent, void, undefined> {
  const filters = { type: ['container'], event: ACTIONS, ...(labels.length === 0 ? {} : { label: labels }) };
  return engineEvents(client, endpoint, filters, 'events (discovery)', parseLabelEvent, signal);
}

interface RawEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

/** One event line → LabelEvent, or undefined for others. Throws on a line that is not JSON. Exported for tests. */
export function parseLabelEvent(line: string): LabelEvent | undefined {
  const raw = JSON.parse(line) as RawEvent;
  if (raw.Type !== undefined && raw.Type !== 'container') return undefined;
  const kind = KINDS.find((a) => a === raw.Action) ?? (raw.Action === undefined ? undefined : PODMAN_ACTIONS[raw.Action]);
  const id = raw.Actor?.ID;
  if (kind === undefined || id === undefined) return undefined;
  // The attributes are the labels plus the engine's own: name, image (and a rename's oldName).
  const { name = '', image: _image, oldName: _oldName, ...labels } = raw.Actor?.Attributes ?? {};
  const time = raw.timeNano !== undefined ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000;
  return { kind, id, name, labels, time };
}
