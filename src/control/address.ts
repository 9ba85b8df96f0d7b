// Control API addresses: parsing `unix:/path` / `HOST:PORT` (CLI --control) and telling loopback apart.

import { isIP } from 'node:net';
import type { ControlConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';

export type ControlListen = ControlConfig['listen'];

/** Where a client connects: a unix socket path or a TCP host and port. */
export type ControlTarget = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/**
 * Parses `unix:/run/portwake.sock`, `/run/portwake.sock`, `127.0.0.1:9090`, `[::1]:9090` or
 * `localhost:9090`. Throws a USAGE PortwakeError naming the text on anything else.
 */
export function parseControlAddress(text: string): ControlTarget {
  const trimmed = text.trim();
  if (trimmed.startsWith('unix:')) {
    const path = trimmed.slice('unix:'.length);
    if (path === '') throw usage(text, 'the unix socket path is empty');
    return { kind: 'unix', path };
  }
  if (trimmed.startsWith('/') || trimmed.startsWith('./')) return { kind: 'unix', path: trimmed };
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(trimmed);
  if (m === null) throw usage(text, 'expected unix:/path or HOST:PORT');
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port < 1 || port > 65_535) throw usage(text, `port ${port} is out of range 1-65535`);
  if (m[1] !== undefined && isIP(host) !== 6) throw usage(text, `"${host}" is not an IPv6 address`);
  return { kind: 'tcp', host, port };
}

/** `unix:/path`, `127.0.0.1:9090` or `[::1]:9090`: the text parseControlAddress accepts back. */
export function formatControlAddress(target: ControlTarget): string {
  if (target.kind === 'unix') return `unix:${target.path}`;
  return isIP(target.host) === 6 ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/**
 * Whether a host name or address only ever reaches this machine. Names other than `localhost` are
 * not loopback: what they resolve to can change, so they count as exposed.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(h)) return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped?.[1]?.startsWith('127.') === true;
  }
  return false;
}

function usage(text: string, why: string): PortwakeError {
  return new PortwakeError('USAGE', `control address "${text}": ${why}`);
}
