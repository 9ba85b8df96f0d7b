// Writing systemd unit files: sections in order, values escaped for specifiers (%) and command
// lines quoted as systemd.service(5) parses them.

import type { Endpoint } from '../core/provider.ts';
import { PortwakeError } from '../core/errors.ts';

export interface UnitFile {
  /** File name, e.g. "portwake.socket". */
  name: string;
  text: string;
}

/** A line of a section: a setting, or a comment (written as "# text"). */
export type UnitLine = { key: string; value: string } | { comment: string };

export interface UnitSection {
  name: 'Unit' | 'Socket' | 'Service' | 'Install';
  lines: UnitLine[];
}

export function setting(key: string, value: string | number): UnitLine {
  return { key, value: String(value) };
}

export function comment(text: string): UnitLine {
  return { comment: text };
}

/** Renders header comments and sections; empty sections are left out. Ends with one newline. */
export function renderUnit(header: readonly string[], sections: readonly UnitSection[]): string {
  const blocks: string[] = [];
  if (header.length > 0) blocks.push(header.map((h) => `# ${h}`).join('\n'));
  for (const s of sections) {
    if (s.lines.length === 0) continue;
    const lines = s.lines.map((l) => ('comment' in l ? `# ${l.comment}` : `${l.key}=${l.value}`));
    blocks.push([`[${s.name}]`, ...lines].join('\n'));
  }
  return `${blocks.join('\n\n')}\n`;
}

/** Escapes "%" so systemd does not expand it as a specifier. */
export function escapeSpecifiers(value: string): string {
  return value.replace(/%/g, '%%');
}

const PLAIN_ARG = /^[A-Za-z0-9_@+=:,./-]+$/;

/**
 * A command line for Exec*=: arguments quoted where needed, "%" and "$" doubled so neither
 * specifiers nor environment variables are expanded. The first argument must be an absolute path.
 */
export function commandLine(argv: readonly string[]): string {
  const [exe] = argv;
  if (exe === undefined || !exe.startsWith('/')) {
    throw new PortwakeError('USAGE', `a unit's command must start with an absolute path (got "${exe ?? ''}")`);
  }
  return argv
    .map((arg) => {
      const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
      if (PLAIN_ARG.test(arg)) return escaped;
      return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
    })
    .join(' ');
}

/** A valid unit name prefix (the part before ".service"): letters, digits, ":_.\-", no "@" (templates). */
export function checkUnitPrefix(prefix: string): string {
  if (!/^[A-Za-z0-9:_.\\-]+$/.test(prefix) || prefix.length > 200) {
    throw new PortwakeError('USAGE', `"${prefix}" cannot be a unit name (use letters, digits and ":_.-")`);
  }
  return prefix;
}

/**
 * The ListenStream= value for a listen address: "8080" (every address), "127.0.0.1:8080",
 * "[::1]:8080", or a socket path ("@name" for an abstract one).
 */
export function listenStreamValue(listen: { kind: 'tcp'; host: string | undefined; port: number } | { kind: 'unix'; path: string }, service: string): string {
  if (listen.kind === 'unix') {
    if (!listen.path.startsWith('/') && !listen.path.startsWith('@')) {
      throw new PortwakeError('USAGE', `service "${service}": ListenStream= needs an absolute socket path (got "${listen.path}")`);
    }
    return escapeSpecifiers(listen.path);
  }
  if (listen.host === undefined || listen.host === '' || listen.host === '*') return String(listen.port);
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(listen.host)) return `${listen.host}:${listen.port}`;
  const v6 = listen.host.replace(/^\[|\]$/g, '');
  if (v6.includes(':')) return `[${v6}]:${listen.port}`;
  throw new PortwakeError(
    'USAGE',
    `service "${service}": ListenStream= needs an IP address, not the name "${listen.host}" (write e.g. 127.0.0.1:${listen.port})`,
  );
}

/** An upstream as systemd-socket-proxyd and wait-port take it: "127.0.0.1:8080", "[::1]:80", "/run/app.sock". */
export function endpointArgument(e: Endpoint): string {
  if (e.kind === 'unix') return e.path;
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
