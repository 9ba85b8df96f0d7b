// Text rendering for `portwake status` and `portwake events`: the service table, one line per event,
// durations, and colours that appear only on a terminal without NO_COLOR.

import { colourWanted } from '../log/colour.ts';
import type { DaemonEvent, ServiceStateKind, ServiceStatus } from '../core/status.ts';

export interface Palette {
  green(s: string): string;
  yellow(s: string): string;
  red(s: string): string;
  dim(s: string): string;
  bold(s: string): string;
}

const plain: Palette = { green: (s) => s, yellow: (s) => s, red: (s) => s, dim: (s) => s, bold: (s) => s };
const sgr = (open: number, close: number) => (s: string): string => `\x1b[${open}m${s}\x1b[${close}m`;
const ansi: Palette = { green: sgr(32, 39), yellow: sgr(33, 39), red: sgr(31, 39), dim: sgr(2, 22), bold: sgr(1, 22) };

/** Colours when writing to a terminal, unless NO_COLOR is set to anything but "" (no-color.org). */
export function palette(out: { isTTY?: boolean }, env: Readonly<Record<string, string | undefined>>): Palette {
  return colourWanted(out.isTTY, env) ? ansi : plain;
}

function colourState(state: ServiceStateKind, c: Palette): string {
  switch (state) {
    case 'ready': return c.green(state);
    case 'starting':
    case 'pausing':
    case 'unpausing':
    case 'stopping': return c.yellow(state);
    case 'paused': return c.green(state);
    case 'failed': return c.red(state);
    case 'stopped': return c.dim(state);
  }
}

/** 850ms, 1.8s, 42s, 3m05s, 2h10m. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)}s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)}s`;
  const totalS = Math.round(ms / 1000);
  if (totalS < 3600) return `${Math.floor(totalS / 60)}m${String(totalS % 60).padStart(2, '0')}s`;
  const totalM = Math.floor(totalS / 60);
  if (totalM < 48 * 60) return `${Math.floor(totalM / 60)}h${String(totalM % 60).padStart(2, '0')}m`;
  return `${Math.floor(totalM / 1440)}d`;
}

export function formatAgo(at: number | undefined, now: number): string {
  if (at === undefined || at === null) return 'never';
  const d = Math.max(0, now - at);
  return d < 1000 ? 'just now' : `${formatDuration(d)} ago`;
}

/** The status table, then one line per failed service with its error. Ends with a newline. */
export function formatStatusTable(services: ServiceStatus[], now: number, c: Palette): string {
  if (services.length === 0) return 'no services configured\n';
  // An ENGINE column only when some service is on an engine of engines: (one engine: as before).
  const engines = services.some((s) => s.engine !== undefined && s.engine !== 'default');
  const header = ['SERVICE', ...(engines ? ['ENGINE'] : []), 'STATE', 'CONNECTIONS', 'LAST ACTIVITY', 'LAST COLD START'];
  const rows = services.map((s) => [
    { text: s.name, shown: s.name },
    ...(engines ? [{ text: s.engine ?? 'default', shown: s.engine ?? 'default' }] : []),
    { text: stateText(s), shown: colourState(s.state, c) + (stateText(s) === s.state ? '' : c.red(stateText(s).slice(s.state.length))) },
    { text: connections(s), shown: connections(s) },
    { text: formatAgo(s.lastActivity ?? undefined, now), shown: formatAgo(s.lastActivity ?? undefined, now) },
    { text: lastStart(s, now), shown: lastStart(s, now) },
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.text.length ?? 0)));
  const line = (cells: { text: string; shown: string }[]): string =>
    cells.map((cell, i) => (i === cells.length - 1 ? cell.shown : cell.shown + ' '.repeat((widths[i] ?? 0) - cell.text.length + 2))).join('').trimEnd();
  const out = [c.bold(line(header.map((h) => ({ text: h, shown: h }))))];
  for (const r of rows) out.push(line(r));
  for (const s of services) {
    if (s.lastError !== undefined && s.lastError !== null) {
      out.push(c.red(`${s.name}: ${s.lastErrorCode ?? 'ERROR'} ${s.lastError}`));
    }
    if (s.backoffUntil !== undefined && s.backoffUntil !== null) {
      out.push(c.red(`${s.name}: backing off until ${new Date(s.backoffUntil).toISOString().slice(11, 19)} UTC (${formatDuration(Math.max(0, s.backoffUntil - now))} more), ` +
        `${s.backoffRefused ?? 0} connection(s) refused meanwhile; "portwake start ${s.name}" retries now`));
    }
  }
  return out.join('\n') + '\n';
}

/** The state, and a back-off after repeated failed starts. */
function stateText(s: ServiceStatus): string {
  return s.backoffUntil === undefined || s.backoffUntil === null ? s.state : `${s.state}, backing off`;
}

function connections(s: ServiceStatus): string {
  const notes = [
    ...(s.heldConnections > 0 ? [`${s.heldConnections} held`] : []),
    ...((s.halfClosedConnections ?? 0) > 0 ? [`${s.halfClosedConnections} half-closed`] : []),
  ];
  return notes.length > 0 ? `${s.openConnections} (${notes.join(', ')})` : String(s.openConnections);
}

function lastStart(s: ServiceStatus, now: number): string {
  const t = s.lastStart;
  if (t === undefined || t === null) return '-';
  if (t.unpaused === true) return `unpaused in ${formatDuration(t.containerStartMs)}, ${formatAgo(t.at, now)}`;
  if (!t.startedByUs) return `found running, ${formatAgo(t.at, now)}`;
  return `${formatDuration(t.containerStartMs + t.readinessMs)}, ${formatAgo(t.at, now)}`;
}

/** `2025-01-31T12:00:00.000Z  web  state       stopped -> starting` */
export function formatEvent(event: DaemonEvent, c: Palette): string {
  const head = `${c.dim(new Date(event.at).toISOString())}  ${event.service}  ${event.type.padEnd(10)}`;
  switch (event.type) {
    case 'state':
      return `${head} ${event.from} -> ${colourState(event.to, c)}`;
    case 'activated': {
      const t = event.timings;
      const parts = t.unpaused === true
        ? `unpaused, ready in ${formatDuration(t.containerStartMs)}`
        : t.startedByUs
        ? `ready in ${formatDuration(t.containerStartMs + t.readinessMs)} (container ${formatDuration(t.containerStartMs)} + readiness ${formatDuration(t.readinessMs)})`
        : `found running, ready after ${formatDuration(t.readinessMs)}`;
      const wait = event.firstWaitMs === undefined || event.firstWaitMs === null ? '' : `, first connection waited ${formatDuration(event.firstWaitMs)}`;
      return `${head} ${parts}${wait}`;
    }
    case 'failed':
      return `${head} ${c.red(`${event.code}: ${event.message}`)}`;
    case 'refused':
      return `${head} ${c.yellow(event.reason)}`;
    case 'connection':
      return `${head} ${event.change}`;
  }
}
