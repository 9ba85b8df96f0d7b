// An explicit upstream: `HOST:PORT`, `[IPv6]:PORT` or `unix:/path`.

import type { Endpoint } from '../core/provider.ts';
import { parseHostPort, unknownScheme } from './host-port.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import { parseUnixPath } from './unix-path.ts';

const SYNTAX = 'HOST:PORT, [IPv6]:PORT or unix:/path';

/** The endpoint, or a message; relative unix paths resolve against baseDir (undefined: error). */
export function parseEndpoint(value: unknown, baseDir?: string): Parsed<Endpoint> {
  if (typeof value !== 'string') {
    const hint = typeof value === 'number' ? `; a port alone needs a host, e.g. "127.0.0.1:${value}"` : '';
    return fail(`expected ${SYNTAX}, got ${show(value)}${hint}`);
  }
  const text = value.trim();
  if (text.startsWith('unix:')) {
    const path = parseUnixPath(text.slice('unix:'.length), baseDir);
    return path.ok ? ok({ kind: 'unix', path: path.value }) : path;
  }
  if (/^\d+$/.test(text)) return fail(`expected ${SYNTAX}, got ${show(text)}; a port alone needs a host, e.g. "127.0.0.1:${text}"`);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return fail(`expected ${SYNTAX}, got ${show(text)} (no URL scheme: write "127.0.0.1:8080", not "http://127.0.0.1:8080")`);
  }
  const scheme = unknownScheme(text);
  if (scheme !== undefined) return fail(`${show(text)}: unknown scheme "${scheme}:", expected ${SYNTAX}`);
  const hostPort = parseHostPort(text);
  if (!hostPort.ok) return fail(`${show(text)}: ${hostPort.message}`);
  const { host, port } = hostPort.value;
  if (host === undefined) return fail(`expected ${SYNTAX}, got ${show(text)}`);
  return ok({ kind: 'tcp', host, port });
}
