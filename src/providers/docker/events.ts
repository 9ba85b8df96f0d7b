// GET /events filtered to container lifecycle events, parsed incrementally from the stream.

import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { systemClock } from '../../core/clock.ts';
import { deadline } from '../../core/deadline.ts';
import { PortwakeError, ProviderUnreachableError } from '../../core/errors.ts';
import type { ContainerEvent, ContainerEventKind, HealthStatus } from '../../core/provider.ts';
import type { DockerClient } from './client.ts';
import { EVENTS_CONNECT_TIMEOUT_MS } from './deadlines.ts';
import { mapDockerError } from './errors.ts';

/**
 * Actions portwake cares about. health_status makes the engine match every action by prefix
 * ("health_status: healthy"), which the others survive since none is a prefix of another action.
 * Podman's compatible API filters on its own names, "died" and "remove" (it reports "died" as
 * "die"; "remove" as it is, read as destroy below); Docker matches none of them.
 */
const ACTIONS = ['start', 'die', 'stop', 'kill', 'destroy', 'pause', 'unpause', 'health_status', 'died', 'remove'];

/** Podman's names for Docker's actions. */
const PODMAN_ACTIONS: Readonly<Record<string, ContainerEventKind>> = { died: 'die', remove: 'destroy' };

/**
 * Streams container events until the signal aborts (the iterator returns) or the stream breaks or
 * ends (it throws ProviderUnreachableError). Breaking out of the loop closes the HTTP stream.
 */
export function containerEvents(client: DockerClient, endpoint: string, signal: AbortSignal): AsyncGenerator<ContainerEvent, void, undefined> {
  return engineEvents(client, endpoint, { type: ['container'], event: ACTIONS }, 'events', parseEvent, signal);
}

/**
 * GET /events with these filters, each line turned into a T by `parse` (undefined: skipped), until
 * the signal aborts (returns) or the stream breaks or ends (throws ProviderUnreachableError: the
 * consumer reconnects and looks again, since events may have been missed). `operation` names the
 * request in errors.
 */
export async function* engineEvents<T>(
  client: DockerClient, endpoint: string, filters: Record<string, unknown>, operation: string,
  parse: (line: string) => T | undefined, signal: AbortSignal,
): AsyncGenerator<T, void, undefined> {
  if (signal.aborted) return;
  let stream: Readable;
  // A hung engine takes the request and never answers: the headers have a deadline, the stream none.
  const connect = deadline(systemClock, EVENTS_CONNECT_TIMEOUT_MS, signal);
  try {
    const api = await client();
    stream = await api.stream('/events', { filters: JSON.stringify(filters) }, connect.signal);
  } catch (err) {
    if (signal.aborted) return;
    throw asUnreachable(mapDockerError(err, { endpoint, operation, signal: connect.signal }), endpoint);
  } finally {
    connect.cancel();
  }
  const onAbort = (): void => { stream.destroy(); };
  signal.addEventListener('abort', onAbort, { once: true });
  const lines = new JsonLines();
  try {
    for await (const chunk of stream) {
      for (const line of lines.push(chunk as Buffer)) {
        const event = parse(line);
        if (event !== undefined) yield event;
        if (signal.aborted) return;
      }
    }
    if (signal.aborted) return;
    throw new ProviderUnreachableError(endpoint, { cause: new Error('the events stream ended') });
  } catch (err) {
    if (signal.aborted) return;
    throw asUnreachable(err, endpoint);
  } finally {
    signal.removeEventListener('abort', onAbort);
    stream.destroy();
  }
}

/** Any failure of an open stream means the consumer must reconnect and re-inspect. */
function asUnreachable(err: unknown, endpoint: string): unknown {
  if (err instanceof ProviderUnreachableError) return err;
  if (err instanceof PortwakeError && err.code !== 'PROVIDER_FAILED') return err;
  return new ProviderUnreachableError(endpoint, { cause: err });
}

/** Splits a byte stream into complete newline-terminated lines, across chunk boundaries. */
export class JsonLines {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  push(chunk: Buffer | string): string[] {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    const parts = this.pending.split('\n');
    this.pending = parts.pop() ?? '';
    return parts.map((p) => p.trim()).filter((p) => p !== '');
  }
}

interface RawEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

const KINDS: readonly ContainerEventKind[] = ['start', 'die', 'stop', 'kill', 'destroy', 'pause', 'unpause'];
const HEALTH: readonly HealthStatus[] = ['starting', 'healthy', 'unhealthy', 'none'];

/**
 * One event line → ContainerEvent, or undefined for events portwake ignores. Throws on a line that
 * is not JSON (a corrupt stream).
 */
export function parseEvent(line: string): ContainerEvent | undefined {
  const raw = JSON.parse(line) as RawEvent;
  if (raw.Type !== undefined && raw.Type !== 'container') return undefined;
  const action = raw.Action ?? raw.status ?? '';
  const id = raw.Actor?.ID ?? raw.id ?? '';
  const attrs = raw.Actor?.Attributes ?? {};
  const time = raw.timeNano !== undefined ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000;
  const base = { id, name: attrs['name'] ?? '', time };
  if (action.startsWith('health_status')) {
    const status = action.slice(action.indexOf(':') + 1).trim();
    const health = HEALTH.find((h) => h === status);
    return health === undefined ? undefined : { kind: 'health', ...base, health };
  }
  const kind = KINDS.find((k) => k === action) ?? PODMAN_ACTIONS[action];
  if (kind === undefined) return undefined;
  if (kind === 'die') {
    const code = Number.parseInt(attrs['exitCode'] ?? '', 10);
    if (Number.isInteger(code)) return { kind, ...base, exitCode: code };
  }
  return { kind, ...base };
}
