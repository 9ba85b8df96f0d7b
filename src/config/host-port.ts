// `PORT`, `HOST:PORT` and `[IPv6]:PORT`, shared by listen addresses, upstreams and the control API.

import { isIP } from 'node:net';
import { fail, ok, show, type Parsed } from './parsed.ts';

export interface HostPort {
  /** undefined when only a port was given. Brackets are removed from IPv6 addresses. */
  host: string | undefined;
  port: number;
}

/**
 * The scheme of `udp:0.0.0.0:53`, `tcp:[::]:80` or `sctp:/x` (a word, a colon, then another
 * address), so that it is named as a scheme rather than taken for an unbracketed IPv6 address
 * or a host with a bad port. undefined for `localhost:80`, `::1:80` or `fe80::1:80`.
 */
export function unknownScheme(text: string): string | undefined {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(text);
  // After the colon, another address (`0.0.0.0:53`, `[::]:80`, `/path`); `host:http` is a bad port instead.
  if (m === null || !/[:/[]/.test(m[2] ?? '')) return undefined;
  // Hex digits, colons and dots only: an IPv6 address without brackets, which has its own hint.
  if (/^[0-9A-Fa-f:.%]+$/.test(text)) return undefined;
  return m[1];
}

/** A TCP port 1-65535, from a YAML number or a decimal string. */
export function parsePort(value: unknown): Parsed<number> {
  const n = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isInteger(n)) return fail(`expected a port number 1-65535, got ${show(value)}`);
  if (n < 1 || n > 65_535) return fail(`port ${n} is out of range 1-65535`);
  return ok(n);
}

/** Splits `80`, `0.0.0.0:80`, `localhost:80` or `[::1]:80`; checks the host's syntax and the port. */
export function parseHostPort(text: string): Parsed<HostPort> {
  if (/^\d+$/.test(text)) return portOnly(text);
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed !== null) {
    const host = bracketed[1] ?? '';
    if (isIP(host) !== 6) return fail(`${show(host)} in brackets is not an IPv6 address`);
    if (bracketed[2] === undefined) return fail(`missing the port after "[${host}]", e.g. "[${host}]:80"`);
    return withPort(host, bracketed[2]);
  }
  const colons = text.split(':').length - 1;
  if (colons === 0) return fail(`missing the port, e.g. "${text}:80"`);
  if (colons > 1) {
    const last = text.lastIndexOf(':');
    return fail(`put an IPv6 address in brackets, e.g. "[${text.slice(0, last)}]:${text.slice(last + 1)}"`);
  }
  const [host = '', port = ''] = text.split(':');
  if (host === '') return fail(`the host before ":${port}" is empty`);
  if (/^[\d.]+$/.test(host)) {
    if (isIP(host) !== 4) return fail(`${show(host)} is not an IPv4 address`);
  } else if (!/^[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})$/.test(host)) {
    return fail(`${show(host)} is not a host name or IP address`);
  }
  return withPort(host, port);
}

function portOnly(text: string): Parsed<HostPort> {
  const port = parsePort(text);
  return port.ok ? ok({ host: undefined, port: port.value }) : port;
}

function withPort(host: string, text: string): Parsed<HostPort> {
  if (text === '') return fail(`missing the port after ":"`);
  if (!/^\d+$/.test(text)) return fail(`${show(text)} is not a port number`);
  const port = parsePort(text);
  return port.ok ? ok({ host, port: port.value }) : port;
}

/** Loopback only: localhost (and *.localhost), 127.0.0.0/8, ::1 and IPv4-mapped 127.x. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped !== null) return mapped[1]?.startsWith('127.') === true;
    return expandV6(h) === '0000:0000:0000:0000:0000:0000:0000:0001';
  }
  return false;
}

/** Canonical full form of an IPv6 address (`0000:…:0001`, zone kept), for comparisons. */
export function expandV6(address: string): string {
  const [addr = '', zone] = address.toLowerCase().split('%');
  let text = addr;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4 !== null) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const fill = tail === undefined ? [] : new Array<string>(8 - left.length - right.length).fill('0');
  const full = [...left, ...fill, ...right].map((g) => g.padStart(4, '0')).join(':');
  return zone === undefined ? full : `${full}%${zone}`;
}
