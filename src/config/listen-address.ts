// Where a service listens: `PORT` (every address, IPv4 and IPv6), `HOST:PORT`, `[IPv6]:PORT`,
// `unix:/path/to.sock`, `systemd` (every socket systemd passed) or `systemd:NAME`.

import type { ListenSpec } from './types.ts';
import { parseHostPort, unknownScheme } from './host-port.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';
import { parseUnixPath } from './unix-path.ts';

export const LISTEN_SYNTAX = 'PORT, HOST:PORT, [IPv6]:PORT, unix:/path, systemd or systemd:NAME';

export interface ListenOptions {
  /** Permission bits for unix sockets (undefined: the umask decides). */
  mode?: number | undefined;
  /** Directory relative unix paths are resolved against; undefined: they are an error. */
  baseDir?: string | undefined;
}

/** One listen address from a YAML string or number (`80`), or a message saying what is wrong. */
export function parseListenAddress(value: unknown, options: ListenOptions = {}): Parsed<ListenSpec> {
  if (typeof value === 'number') return parseListenAddress(String(value), options);
  if (typeof value !== 'string') return fail(`expected ${LISTEN_SYNTAX}, got ${show(value)}`);
  const text = value.trim();
  if (text === '') return fail(`expected ${LISTEN_SYNTAX}, got ""`);

  if (text.startsWith('unix:')) {
    const path = parseUnixPath(text.slice('unix:'.length), options.baseDir);
    if (!path.ok) return path;
    return ok({ kind: 'unix', path: path.value, mode: options.mode, text: `unix:${path.value}` });
  }
  if (text === 'systemd') return ok({ kind: 'systemd', name: undefined, text });
  if (text.startsWith('systemd:')) {
    const name = text.slice('systemd:'.length);
    // sd_listen_fds_with_names(3) joins names with ':' and allows printable ASCII up to 255 bytes.
    if (!/^[\x21-\x39\x3b-\x7e]{1,255}$/.test(name)) {
      return fail(`${show(text)}: the name after "systemd:" must be 1-255 printable ASCII characters without ":" or spaces (a FileDescriptorName=)`);
    }
    return ok({ kind: 'systemd', name, text });
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    return fail(`expected ${LISTEN_SYNTAX}, got ${show(text)} (no URL scheme: write "0.0.0.0:80", not "tcp://0.0.0.0:80")`);
  }
  const scheme = unknownScheme(text);
  if (scheme !== undefined) return fail(`${show(text)}: unknown scheme "${scheme}:", expected ${LISTEN_SYNTAX}`);
  const hostPort = parseHostPort(text);
  if (!hostPort.ok) return fail(`${show(text)}: ${hostPort.message}`);
  return ok({ kind: 'tcp', host: hostPort.value.host, port: hostPort.value.port, text });
}
