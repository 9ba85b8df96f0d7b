// PROXY protocol headers (haproxy's proxy-protocol.txt, versions 1 and 2): the client's and the
// listener's addresses, sent to the upstream before anything else, so that an app behind portwake
// keeps its clients' IPs. Pure encoders; a connection sends one as the first of its early bytes.

import { parseIP } from '../core/cidr.ts';

export type ProxyProtocolVersion = 'v1' | 'v2';

/** The two ends of a client connection as the listening socket sees them (undefined: no IP, e.g. a Unix socket). */
export interface ConnectionAddresses {
  sourceAddress: string | undefined;
  sourcePort: number | undefined;
  destinationAddress: string | undefined;
  destinationPort: number | undefined;
}

/** The v2 signature: \r\n\r\n\0\r\nQUIT\n. */
export const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

type Resolved =
  | { family: 4; src: Uint8Array; dst: Uint8Array; srcText: string; dstText: string; sport: number; dport: number }
  | { family: 6; src: Uint8Array; dst: Uint8Array; srcText: string; dstText: string; sport: number; dport: number }
  | undefined;

const MAPPED = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i;

/** Both ends as one family: IPv4 when both are IPv4 (or IPv4-mapped), else IPv6 (IPv4 mapped). */
function resolve(a: ConnectionAddresses): Resolved {
  const { sourceAddress: s, destinationAddress: d, sourcePort: sport, destinationPort: dport } = a;
  if (s === undefined || d === undefined || sport === undefined || dport === undefined) return undefined;
  const src = parseIP(stripZone(s));
  const dst = parseIP(stripZone(d));
  if (src === undefined || dst === undefined) return undefined;
  const v4 = (b: Uint8Array): boolean => b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  if (v4(src) && v4(dst)) {
    return { family: 4, src: src.subarray(12), dst: dst.subarray(12), srcText: [...src.subarray(12)].join('.'), dstText: [...dst.subarray(12)].join('.'), sport, dport };
  }
  return { family: 6, src, dst, srcText: v6Text(src), dstText: v6Text(dst), sport, dport };
}

function stripZone(a: string): string {
  const m = MAPPED.exec(a);
  if (m !== null) return m[1]!;
  const zone = a.indexOf('%');
  return zone < 0 ? a : a.slice(0, zone);
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups as "::". */
function v6Text(b: Uint8Array): string {
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j === i ? i + 1 : j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  return best < 0 ? hex(words) : `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** Version 1: "PROXY TCP4 SRC DST SPORT DPORT\r\n" (or TCP6; "PROXY UNKNOWN\r\n" without IP addresses). */
export function proxyHeaderV1(a: ConnectionAddresses): Buffer {
  const r = resolve(a);
  if (r === undefined) return Buffer.from('PROXY UNKNOWN\r\n', 'latin1');
  return Buffer.from(`PROXY TCP${r.family} ${r.srcText} ${r.dstText} ${r.sport} ${r.dport}\r\n`, 'latin1');
}

/** Version 2: signature, PROXY command, AF_INET/AF_INET6 over STREAM, addresses and ports (LOCAL without IP addresses). */
export function proxyHeaderV2(a: ConnectionAddresses): Buffer {
  const r = resolve(a);
  if (r === undefined) {
    // LOCAL, UNSPEC: the receiver uses the connection's own addresses.
    return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  }
  const size = r.family === 4 ? 12 : 36;
  const out = Buffer.alloc(16 + size);
  V2_SIGNATURE.copy(out, 0);
  out[12] = 0x21; // version 2, PROXY
  out[13] = r.family === 4 ? 0x11 : 0x21; // AF_INET / AF_INET6, STREAM
  out.writeUInt16BE(size, 14);
  const n = r.src.length;
  out.set(r.src, 16);
  out.set(r.dst, 16 + n);
  out.writeUInt16BE(r.sport, 16 + 2 * n);
  out.writeUInt16BE(r.dport, 18 + 2 * n);
  return out;
}

export function proxyHeader(version: ProxyProtocolVersion, a: ConnectionAddresses): Buffer {
  return version === 'v1' ? proxyHeaderV1(a) : proxyHeaderV2(a);
}
