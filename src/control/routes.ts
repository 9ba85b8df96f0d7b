// The control API's routes: each one a thin translation between HTTP and DaemonControl. Errors are
// answered, not logged: the daemon already logged the failure at the boundary that decided it.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { PortwakeError } from '../core/errors.ts';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { DaemonControl } from '../core/status.ts';
import { dashboardPage } from './dashboard/page.ts';
import type { ControlMetrics } from './metrics.ts';
import { sendError, sendJson } from './respond.ts';
import type { StartHistory } from './start-history.ts';

export interface RouteContext {
  control: DaemonControl;
  metrics: ControlMetrics;
  history: StartHistory;
  logger: Logger;
  clock: Clock;
  /** Opens `GET /events` for this response (limits and bookkeeping live in the server). */
  openEvents(res: ServerResponse): void;
}

const SERVICE_ACTION = /^\/services\/([^/]+)\/(start|stop)$/;

/** Routes one authorized request. Never rejects: every failure becomes a response. */
export async function route(ctx: RouteContext, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  const path = url.pathname;
  const method = req.method ?? 'GET';
  const read = method === 'GET' || method === 'HEAD';

  if (path === '/' || path === '/index.html') {
    if (!read) return notAllowed(res, 'GET');
    return sendDashboard(res, method === 'HEAD');
  }
  if (path === '/status') {
    if (!read) return notAllowed(res, 'GET');
    return sendJson(res, 200, statusBody(ctx));
  }
  if (path === '/metrics') {
    if (!read) return notAllowed(res, 'GET');
    const text = await ctx.metrics.render();
    res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType, 'cache-control': 'no-store' });
    res.end(method === 'HEAD' ? undefined : text);
    return;
  }
  if (path === '/events') {
    if (method !== 'GET') return notAllowed(res, 'GET');
    ctx.openEvents(res);
    return;
  }
  if (path === '/reload') {
    if (method !== 'POST') return notAllowed(res, 'POST');
    try {
      const result = await ctx.control.reload();
      ctx.history.retain(new Set(ctx.control.status().map((s) => s.name)));
      sendJson(res, 200, result);
    } catch (err) {
      // The running config stays in force; the caller needs the config errors verbatim.
      sendError(res, 400, errorCode(err, 'CONFIG_INVALID'), errorMessage(err));
    }
    return;
  }
  const action = SERVICE_ACTION.exec(path);
  if (action !== null) {
    if (method !== 'POST') return notAllowed(res, 'POST');
    return serviceAction(ctx, res, action[1] ?? '', action[2] === 'start' ? 'start' : 'stop');
  }
  sendError(res, 404, 'NOT_FOUND', `no route ${method} ${path}`);
}

function statusBody(ctx: RouteContext): unknown {
  const services = ctx.control.status().map((s) => ({ ...s, recentStarts: ctx.history.get(s.name, s.lastStart) }));
  return { now: ctx.clock.now(), services };
}

async function serviceAction(ctx: RouteContext, res: ServerResponse, rawName: string, action: 'start' | 'stop'): Promise<void> {
  let name: string;
  try {
    name = decodeURIComponent(rawName);
  } catch {
    return sendError(res, 400, 'USAGE', `malformed service name "${rawName}"`);
  }
  const known = ctx.control.status().map((s) => s.name);
  if (!known.includes(name)) {
    return sendError(res, 404, 'UNKNOWN_SERVICE', `no service "${name}" (known: ${known.join(', ') || 'none'})`);
  }
  const startedAt = ctx.clock.now();
  try {
    await (action === 'start' ? ctx.control.start(name) : ctx.control.stop(name));
  } catch (err) {
    ctx.logger.debug({ service: name, action, err: errorMessage(err) }, 'control API request failed');
    return sendError(res, failureStatus(err), errorCode(err, 'INTERNAL'), errorMessage(err));
  }
  const service = ctx.control.status().find((s) => s.name === name);
  sendJson(res, 200, { ok: true, service: name, action, tookMs: ctx.clock.now() - startedAt, status: service });
}

function sendDashboard(res: ServerResponse, head: boolean): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(dashboardPage.html),
    'cache-control': 'no-cache',
    'content-security-policy': dashboardPage.contentSecurityPolicy,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
  });
  res.end(head ? undefined : dashboardPage.html);
}

function notAllowed(res: ServerResponse, allow: string): void {
  sendError(res, 405, 'METHOD_NOT_ALLOWED', `use ${allow}`, { allow });
}

/** 502 for the container side failing, 503 for limits and shutdown, 500 for anything unexpected. */
function failureStatus(err: unknown): number {
  if (!(err instanceof PortwakeError)) return 500;
  if (err.code === 'LIMIT_REACHED' || err.code === 'ABORTED') return 503;
  if (err.code === 'USAGE') return 400;
  return 502;
}

function errorCode(err: unknown, fallback: string): string {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : fallback;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
