// Where the control API listens: `unix:/path` or `HOST:PORT` with an explicit host (a bare port
// would expose it on every address, which must be a deliberate choice).

import { isAbsolute, resolve } from 'node:path';
import type { ControlConfig } from './types.ts';
import { parseHostPort, unknownScheme } from './host-port.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import { parseUnixPath } from './unix-path.ts';

export type ControlAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export function parseControlAddress(value: unknown, baseDir?: string): Parsed<ControlAddress> {
  if (typeof value === 'number') return parseControlAddress(String(value), baseDir);
  if (typeof value !== 'string') return fail(`expected unix:/path or HOST:PORT, got ${show(value)}`);
  const text = value.trim();
  if (text.startsWith('unix:')) {
    const path = parseUnixPath(text.slice('unix:'.length), baseDir);
    return path.ok ? ok({ kind: 'unix', path: path.value }) : path;
  }
  if (text === 'systemd' || text.startsWith('systemd:')) return fail(`expected unix:/path or HOST:PORT, got ${show(text)} (systemd sockets are for services only)`);
  const scheme = unknownScheme(text);
  if (scheme !== undefined) return fail(`${show(text)}: unknown scheme "${scheme}:", expected unix:/path or HOST:PORT`);
  const hostPort = parseHostPort(text);
  if (!hostPort.ok) return fail(`${show(text)}: ${hostPort.message}`);
  const { host, port } = hostPort.value;
  if (host === undefined) {
    return fail(`${show(text)}: give the address to listen on, e.g. "127.0.0.1:${port}" (or "0.0.0.0:${port}" with a token)`);
  }
  return ok({ kind: 'tcp', host, port });
}

export const DEFAULT_CONTROL_SOCKET_MODE = 0o660;

export function controlListen(address: ControlAddress, mode: number | undefined): ControlConfig['listen'] {
  return address.kind === 'unix' ? { ...address, mode: mode ?? DEFAULT_CONTROL_SOCKET_MODE } : address;
}

/** control.tokenFile: a file path, absolute or relative to baseDir (the config file's directory). */
export function parseTokenFile(value: unknown, baseDir?: string): Parsed<string> {
  if (typeof value !== 'string' || value.trim() === '' || value.includes('\0')) return fail(`expected the path of a file holding the token, got ${show(value)}`);
  if (!isAbsolute(value) && baseDir === undefined) return fail(`expected an absolute path, got ${show(value)}`);
  return ok(baseDir === undefined ? resolve(value) : resolve(baseDir, value));
}

/** control.insecureNoToken: only the literal `true` or `false`. */
export function parseInsecureNoToken(value: unknown): Parsed<boolean> {
  return typeof value === 'boolean' ? ok(value) : fail(`expected true or false, got ${show(value)}`);
}
