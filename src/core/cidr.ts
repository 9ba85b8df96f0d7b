// IP addresses and CIDR blocks as 16 bytes (IPv4 as IPv4-mapped IPv6, ::ffff:a.b.c.d), so that one
// comparison serves both families and a client that an IPv6 socket reports as ::ffff:10.0.0.1
// matches 10.0.0.0/8. Hand-written: core imports nothing outside itself (no node:net).

/** A CIDR block: the first `bits` bits of `bytes` (16 bytes; IPv4 blocks are mapped, bits + 96). */
export interface Cidr {
  readonly bytes: Uint8Array;
  readonly bits: number;
  /** As written in the config, for messages. */
  readonly text: string;
}

const MAPPED_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] as const;

/** Dotted-quad IPv4 ("10.0.0.1") as 4 bytes; undefined unless exactly four decimal parts 0–255. */
export function parseIPv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith('0'))) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** IPv6 text ("::1", "fe80::1%eth0", "::ffff:10.0.0.1") as 16 bytes; undefined if malformed. */
export function parseIPv6(text: string): Uint8Array | undefined {
  const zone = text.indexOf('%');
  let t = zone >= 0 ? text.slice(0, zone) : text;
  if (t === '' || /[^0-9a-fA-F:.]/.test(t)) return undefined;
  let tail: number[] = [];
  const lastColon = t.lastIndexOf(':');
  if (t.includes('.')) {
    const v4 = parseIPv4(t.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = v4;
    // "::ffff:1.2.3.4" → "::ffff", "::1.2.3.4" → "::" (the "::" stays whole).
    t = t.slice(0, lastColon);
    if (t.endsWith(':')) t += ':';
  }
  const halves = t.split('::');
  if (halves.length > 2) return undefined;
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = groups(halves[0] ?? '');
  const rest = halves.length === 2 ? groups(halves[1] ?? '') : [];
  if (head === undefined || rest === undefined) return undefined;
  const want = 8 - tail.length / 2;
  const have = head.length + rest.length;
  if (halves.length === 2 ? have >= want : have !== want) return undefined;
  const words = [...head, ...new Array<number>(want - have).fill(0), ...rest];
  const bytes = new Uint8Array(16);
  words.forEach((w, i) => {
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  });
  bytes.set(tail, 12);
  return bytes;
}

/** Any IP address text as 16 bytes (IPv4 mapped); undefined if it is not an address. */
export function parseIP(text: string): Uint8Array | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return Uint8Array.from([...MAPPED_PREFIX, ...v4]);
  return text.includes(':') ? parseIPv6(text) : undefined;
}

/**
 * "10.0.0.0/8", "2001:db8::/32", or a single address ("127.0.0.1" = /32, "::1" = /128). Bits set
 * past the prefix ("10.0.0.1/8") are an error: they usually mean a typo.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const v4 = parseIPv4(addr) !== undefined;
  const bytes = parseIP(addr);
  if (bytes === undefined) return `"${addr}" is not an IPv4 or IPv6 address`;
  const max = v4 ? 32 : 128;
  let bits = max;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) return `prefix length "/${p}" must be a whole number from 0 to ${max}`;
    bits = Number(p);
  }
  if (v4) bits += 96;
  for (let i = bits; i < 128; i++) {
    if ((bytes[i >> 3]! >> (7 - (i & 7))) & 1) return `"${text}" has bits set past its /${v4 ? bits - 96 : bits} prefix (did you mean "${formatMasked(bytes, bits, v4)}/${v4 ? bits - 96 : bits}"?)`;
  }
  return { bytes, bits, text };
}

/** Whether an address (16 bytes, from parseIP) lies in the block. */
export function cidrContains(cidr: Cidr, address: Uint8Array): boolean {
  const whole = cidr.bits >> 3;
  for (let i = 0; i < whole; i++) if (cidr.bytes[i] !== address[i]) return false;
  const rem = cidr.bits & 7;
  if (rem === 0) return true;
  const mask = (0xff << (8 - rem)) & 0xff;
  return ((cidr.bytes[whole]! ^ address[whole]!) & mask) === 0;
}

function formatMasked(bytes: Uint8Array, bits: number, v4: boolean): string {
  const masked = Uint8Array.from(bytes, (b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  if (v4) return [...masked.subarray(12)].join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((masked[i]! << 8) | masked[i + 1]!).toString(16));
  return words.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}
