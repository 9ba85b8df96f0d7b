// Who may use the control API: the bearer token (constant-time), and the browser-origin checks that
// keep a web page the operator happens to visit from driving a loopback API.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { isLoopbackHost } from './address.ts';

export type AuthResult = { ok: true } | { ok: false; status: 401 | 403; reason: string };

export interface AuthPolicy {
  /** undefined: no token configured (only allowed on a unix socket or a loopback address). */
  token: string | undefined;
  /** Host names/addresses the API is reached by, besides loopback ones (the configured host). */
  allowedHosts: ReadonlySet<string>;
  /** true on a unix socket: there is no Host to check, file permissions decide. */
  unix: boolean;
  /**
   * TCP without a token (loopback: any local user can connect): requests that change state
   * (POST: start, stop, reload) are refused unless the operator opted out (control.insecureNoToken).
   */
  changesNeedToken?: boolean;
}

/** How to allow state-changing requests on a TCP control address. */
export const NO_TOKEN_HINT = 'set control.tokenFile, the systemd credential portwake-token or PORTWAKE_TOKEN; listen on a unix: socket; or set control.insecureNoToken: true';

/**
 * Checks one request. A configured token is required on every route except the dashboard page
 * itself (which carries no data); `?token=` is accepted for `GET /events` only, because
 * EventSource cannot set headers.
 */
export function authorize(req: IncomingMessage, url: URL, policy: AuthPolicy): AuthResult {
  if (!policy.unix && policy.token === undefined && !hostAllowed(req.headers.host, policy.allowedHosts)) {
    // Without a token, a page on a DNS-rebound name could otherwise read /status via loopback.
    return { ok: false, status: 403, reason: `Host "${req.headers.host ?? ''}" is not this control API` };
  }
  if (req.method === 'POST' && !sameOrigin(req)) {
    return { ok: false, status: 403, reason: 'cross-origin POST refused' };
  }
  if (policy.changesNeedToken === true && policy.token === undefined && req.method !== 'GET' && req.method !== 'HEAD') {
    return { ok: false, status: 403, reason: `${req.method ?? ''} needs a token on a TCP control address, and none is configured (${NO_TOKEN_HINT})` };
  }
  if (policy.token === undefined) return { ok: true };
  if (req.method === 'GET' && url.pathname === '/') return { ok: true };
  const presented = bearer(req.headers.authorization)
    ?? (req.method === 'GET' && url.pathname === '/events' ? url.searchParams.get('token') ?? undefined : undefined);
  if (presented === undefined) return { ok: false, status: 401, reason: 'a bearer token is required' };
  return tokenMatches(presented, policy.token) ? { ok: true } : { ok: false, status: 401, reason: 'wrong token' };
}

/** Constant-time comparison: both sides are hashed first so lengths never leak through timing. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m?.[1];
}

function hostAllowed(hostHeader: string | undefined, allowed: ReadonlySet<string>): boolean {
  if (hostHeader === undefined) return true; // HTTP/1.0 clients and curl --unix-socket style tools
  const host = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
  return isLoopbackHost(host) || allowed.has(host);
}

/** A browser always sends Origin on a cross-origin POST; tools (curl, the CLI) send none. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  if (origin === 'null') return false;
  try {
    return new URL(origin).host === (req.headers.host ?? '');
  } catch {
    return false;
  }
}
