// GET /events for the creation, renaming and removal of containers carrying given labels (the
// engine filters by label; each event carries the container's labels as attributes).

import type { Readable } from 'node:stream';
import { systemClock } from '../../core/clock.ts';
import { deadline } from '../../core/deadline.ts';
import { ProviderUnreachableError } from '../../core/errors.ts';
import type { DockerClient } from './client.ts';
import { EVENTS_CONNECT_TIMEOUT_MS } from './deadlines.ts';
import { mapDockerError } from './errors.ts';
import { JsonLines } from './events.ts';

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
export async function* containerLabelEvents(client: DockerClient, endpoint: string, labels: readonly string[], signal: AbortSignal): AsyncGenerator<LabelEvent, void, undefined> {
  if (signal.aborted) return;
  let stream: Readable;
  const connect = deadline(systemClock, EVENTS_CONNECT_TIMEOUT_MS, signal);
  try {
    const api = await client();
    stream = await api.stream('/events', { filters: JSON.stringify({ type: ['container'], event: ACTIONS, ...(labels.length === 0 ? {} : { label: labels }) }) }, connect.signal);
  } catch (err) {
    if (signal.aborted) return;
    const mapped = mapDockerError(err, { endpoint, operation: 'events (discovery)', signal: connect.signal });
    throw mapped instanceof ProviderUnreachableError ? mapped : new ProviderUnreachableError(endpoint, { cause: mapped });
  } finally {
    connect.cancel();
  }
  const onAbort = (): void => { stream.destroy(); };
  signal.addEventListener('abort', onAbort, { once: true });
  const lines = new JsonLines();
  try {
    for await (const chunk of stream) {
      for (const line of lines.push(chunk as Buffer)) {
        const event = parseLabelEvent(line);
        if (event !== undefined) yield event;
        if (signal.aborted) return;
      }
    }
    if (signal.aborted) return;
    throw new ProviderUnreachableError(endpoint, { cause: new Error('the events stream ended') });
  } catch (err) {
    if (signal.aborted) return;
    throw err instanceof ProviderUnreachableError ? err : new ProviderUnreachableError(endpoint, { cause: err });
  } finally {
    signal.removeEventListener('abort', onAbort);
    stream.destroy();
  }
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
