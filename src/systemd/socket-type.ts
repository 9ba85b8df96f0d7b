// What kind of socket an inherited file descriptor is. Node cannot getsockopt(SO_TYPE), so this reads
// /proc/self/fd/N (→ "socket:[INODE]") and finds the inode in /proc/net/{tcp,tcp6,udp,udp6,unix}.

import { readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';

export type FdInfo =
  /** A socket found in the kernel's tables. `address` is for messages: "127.0.0.1:8080", "[::]:80", "/run/a.sock", "@name". */
  | { kind: 'socket'; transport: 'tcp' | 'udp' | 'unix'; type: 'stream' | 'dgram' | 'seqpacket'; listening: boolean; address: string }
  /** A socket of another family (netlink, SCTP, …) or one the tables do not show. */
  | { kind: 'other-socket'; inode: number }
  | { kind: 'not-socket'; target: string }
  /** /proc could not be read: the type cannot be told. */
  | { kind: 'unknown'; reason: string };

export type FdTypeLookup = (fd: number) => FdInfo;

/** How the lookup reads /proc; tests pass canned tables. */
export interface ProcReader {
  readlink(path: string): string;
  readFile(path: string): string;
}

const nodeReader: ProcReader = {
  readlink: (p) => readlinkSync(p),
  readFile: (p) => readFileSync(p, 'utf8'),
};

interface TableEntry {
  transport: 'tcp' | 'udp' | 'unix';
  type: 'stream' | 'dgram' | 'seqpacket';
  listening: boolean;
  address: string;
}

const INET_TABLES = [
  { file: 'tcp', transport: 'tcp', v6: false },
  { file: 'tcp6', transport: 'tcp', v6: true },
  { file: 'udp', transport: 'udp', v6: false },
  { file: 'udp6', transport: 'udp', v6: true },
] as const;

/**
 * A lookup that reads the socket tables once, on first use, from the calling process's network
 * namespace. Never throws: what it cannot tell is reported as `unknown`.
 */
export function createFdTypeLookup(reader: ProcReader = nodeReader, littleEndian = endianness() === 'LE'): FdTypeLookup {
  let tables: Map<number, TableEntry> | undefined;
  let tablesError: string | undefined;
  const load = (): Map<number, TableEntry> => {
    if (tables !== undefined) return tables;
    tables = new Map();
    for (const t of INET_TABLES) {
      try {
        parseInetTable(reader.readFile(`/proc/net/${t.file}`), t.transport, t.v6, littleEndian, tables);
      } catch (err) {
        // tcp6/udp6 are absent when IPv6 is disabled; the others being absent is reported below.
        if (!t.v6) tablesError = `cannot read /proc/net/${t.file}: ${(err as Error).message}`;
      }
    }
    try {
      parseUnixTable(reader.readFile('/proc/net/unix'), tables);
    } catch (err) {
      tablesError = `cannot read /proc/net/unix: ${(err as Error).message}`;
    }
    return tables;
  };
  return (fd) => {
    let target: string;
    try {
      target = reader.readlink(`/proc/self/fd/${fd}`);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return { kind: 'not-socket', target: 'not open' };
      return { kind: 'unknown', reason: `cannot read /proc/self/fd/${fd}: ${(err as Error).message}` };
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m?.[1] === undefined) return { kind: 'not-socket', target };
    const inode = Number(m[1]);
    const entry = load().get(inode);
    if (entry !== undefined) return { kind: 'socket', ...entry };
    if (tablesError !== undefined) return { kind: 'unknown', reason: tablesError };
    return { kind: 'other-socket', inode };
  };
}

/** "TCP stream socket listening on 127.0.0.1:8080", for messages. */
export function describeFdInfo(info: FdInfo): string {
  switch (info.kind) {
    case 'socket': {
      const transport = info.transport === 'unix' ? 'Unix' : info.transport.toUpperCase();
      const type = info.type === 'dgram' ? 'datagram' : info.type;
      const where = info.address === '' ? '' : info.listening ? ` listening on ${info.address}` : ` on ${info.address}`;
      return `${transport} ${type} socket${where}`;
    }
    case 'other-socket':
      return `socket of an unsupported family (inode ${info.inode}; not TCP, UDP or Unix)`;
    case 'not-socket':
      return `not a socket (${info.target})`;
    case 'unknown':
      return `socket of unknown type (${info.reason})`;
  }
}

/** Adds the rows of /proc/net/{tcp,tcp6,udp,udp6} to `into`, keyed by inode. */
export function parseInetTable(text: string, transport: 'tcp' | 'udp', v6: boolean, littleEndian: boolean, into: Map<number, TableEntry>): void {
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    const state = f[3];
    const inode = Number(f[9]);
    if (local === undefined || state === undefined || !Number.isInteger(inode) || inode === 0) continue;
    into.set(inode, {
      transport,
      type: transport === 'tcp' ? 'stream' : 'dgram',
      // TCP_LISTEN is 0x0A; a bound UDP socket has no listen state.
      listening: transport === 'tcp' && state === '0A',
      address: decodeInetAddress(local, v6, littleEndian),
    });
  }
}

const UNIX_TYPES: Readonly<Record<string, TableEntry['type']>> = { '0001': 'stream', '0002': 'dgram', '0005': 'seqpacket' };
/** __SO_ACCEPTCON in the Flags column: the socket is listening. */
const UNIX_ACCEPTCON = 0x10000;

/** Adds the rows of /proc/net/unix (Num RefCount Protocol Flags Type St Inode [Path]) to `into`. */
export function parseUnixTable(text: string, into: Map<number, TableEntry>): void {
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const flags = f[3];
    const type = f[4] === undefined ? undefined : UNIX_TYPES[f[4]];
    const inode = Number(f[6]);
    if (flags === undefined || type === undefined || !Number.isInteger(inode)) continue;
    into.set(inode, {
      transport: 'unix',
      type,
      listening: (parseInt(flags, 16) & UNIX_ACCEPTCON) !== 0,
      address: f.slice(7).join(' '),
    });
  }
}

/**
 * Decodes "0100007F:1F90" (IPv4) or 32 hex digits + port (IPv6). The kernel prints the address as
 * 32-bit words in host byte order, the port as a plain number.
 */
export function decodeInetAddress(text: string, v6: boolean, littleEndian: boolean): string {
  const [hex = '', portHex = '0'] = text.split(':');
  const port = parseInt(portHex, 16);
  const bytes: number[] = [];
  for (let i = 0; i + 8 <= hex.length; i += 8) {
    const word = parseInt(hex.slice(i, i + 8), 16);
    const be = [(word >>> 24) & 0xff, (word >>> 16) & 0xff, (word >>> 8) & 0xff, word & 0xff];
    bytes.push(...(littleEndian ? be.reverse() : be));
  }
  if (!v6) return `${bytes.join('.')}:${port}`;
  const groups: number[] = [];
  for (let i = 0; i + 1 < bytes.length; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  return `[${compressIpv6(groups)}]:${port}`;
}

function compressIpv6(groups: number[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
