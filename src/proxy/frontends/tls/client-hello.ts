// Reads the server name (SNI) from a TLS ClientHello without terminating TLS: the handshake
// message may arrive split over several TCP segments and over several TLS records. Pure and
// bounded: it looks at no more than MAX_CLIENT_HELLO_BYTES of handshake, never throws on input.

/** The largest ClientHello read (handshake message, without record headers). Real ones are < 2 KiB; post-quantum key shares bring them near 2–3 KiB. */
export const MAX_CLIENT_HELLO_BYTES = 16 * 1024;

export type HelloResult =
  /** Not enough bytes yet: read more and call again with everything so far. */
  | { kind: 'more' }
  /** A complete ClientHello with a host_name server name (lower case, no trailing dot). */
  | { kind: 'sni'; name: string }
  /** A complete, well-formed ClientHello without a server name. */
  | { kind: 'no_sni' }
  /** Not TLS, malformed, or too large: the connection cannot be routed. */
  | { kind: 'invalid'; why: string };

const RECORD_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const NAME_TYPE_HOST = 0;
/** A record's fragment may be at most 2^14 bytes (RFC 8446 5.1); a little more is tolerated for older stacks. */
const MAX_RECORD_BYTES = (1 << 14) + 2048;
const HOSTNAME = /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/;

/**
 * Parses what the client sent so far (`data`: all bytes from the first, in order). Handshake
 * fragments are gathered from consecutive handshake records until the ClientHello is complete.
 */
export function parseClientHello(data: Uint8Array): HelloResult {
  const handshake: Uint8Array[] = [];
  let have = 0;
  let need: number | undefined; // the ClientHello's total length once its header is read
  let at = 0;
  while (need === undefined || have < need) {
    if (data.length - at < 5) return { kind: 'more' };
    const type = data[at]!;
    if (type !== RECORD_HANDSHAKE) {
      return { kind: 'invalid', why: at === 0 ? `not a TLS handshake (first byte 0x${type.toString(16).padStart(2, '0')})` : `record type ${type} before the ClientHello was complete` };
    }
    const major = data[at + 1]!;
    if (major !== 3) return { kind: 'invalid', why: `unknown record version ${major}.${data[at + 2]!}` };
    const length = (data[at + 3]! << 8) | data[at + 4]!;
    if (length === 0 || length > MAX_RECORD_BYTES) return { kind: 'invalid', why: `record length ${length}` };
    if (data.length - at - 5 < length) {
      // Enough of the first record to judge the handshake header early (a huge length, not a ClientHello).
      if (need === undefined) {
        const early = judgeHeader(concat([...handshake, data.subarray(at + 5)]));
        if (early !== undefined && early.kind === 'invalid') return early;
      }
      return { kind: 'more' };
    }
    handshake.push(data.subarray(at + 5, at + 5 + length));
    have += length;
    at += 5 + length;
    if (need === undefined) {
      const header = judgeHeader(concat(handshake));
      if (header !== undefined) {
        if (header.kind === 'invalid') return header;
        need = header.need;
      }
    }
  }
  const message = concat(handshake);
  // Bytes past the ClientHello in its last record would be a second handshake message: not from a client.
  if (message.length !== need) return { kind: 'invalid', why: 'data after the ClientHello in its record' };
  return parseBody(message.subarray(4));
}

/** The handshake header: undefined while fewer than 4 bytes are known. */
function judgeHeader(h: Uint8Array): { kind: 'ok'; need: number } | { kind: 'invalid'; why: string } | undefined {
  if (h.length < 1) return undefined;
  if (h[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'invalid', why: `handshake type ${h[0]!}, not a ClientHello` };
  if (h.length < 4) return undefined;
  const length = (h[1]! << 16) | (h[2]! << 8) | h[3]!;
  if (length > MAX_CLIENT_HELLO_BYTES) return { kind: 'invalid', why: `ClientHello of ${length} bytes (more than ${MAX_CLIENT_HELLO_BYTES})` };
  if (length < 38) return { kind: 'invalid', why: `ClientHello of ${length} bytes is too short` };
  return { kind: 'ok', need: length + 4 };
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A bounds-checked reader over one byte range; every read past the end sets `bad`. */
class Reader {
  bad = false;
  constructor(private readonly b: Uint8Array, public at = 0, private readonly end = b.length) {}
  get left(): number {
    return this.end - this.at;
  }
  u8(): number {
    if (this.left < 1) return this.fail();
    return this.b[this.at++]!;
  }
  u16(): number {
    if (this.left < 2) return this.fail();
    const v = (this.b[this.at]! << 8) | this.b[this.at + 1]!;
    this.at += 2;
    return v;
  }
  /** A sub-reader over the next n bytes, which this reader skips. */
  take(n: number): Reader {
    if (this.left < n) {
      this.fail();
      return new Reader(this.b, this.end, this.end);
    }
    const r = new Reader(this.b, this.at, this.at + n);
    this.at += n;
    return r;
  }
  bytes(): Uint8Array {
    return this.b.subarray(this.at, this.end);
  }
  private fail(): number {
    this.bad = true;
    this.at = this.end;
    return 0;
  }
}

function parseBody(body: Uint8Array): HelloResult {
  const r = new Reader(body);
  const major = r.u8();
  r.u8(); // minor
  if (major !== 3) return { kind: 'invalid', why: `unknown ClientHello version ${major}` };
  r.take(32); // random
  const sessionId = r.u8();
  if (sessionId > 32) return { kind: 'invalid', why: `session id of ${sessionId} bytes` };
  r.take(sessionId);
  const suites = r.u16();
  if (suites === 0 || suites % 2 !== 0) return { kind: 'invalid', why: `cipher suites of ${suites} bytes` };
  r.take(suites);
  const compression = r.u8();
  if (compression === 0) return { kind: 'invalid', why: 'no compression methods' };
  r.take(compression);
  if (r.bad) return { kind: 'invalid', why: 'ClientHello ends early' };
  if (r.left === 0) return { kind: 'no_sni' }; // no extensions at all
  const exts = r.take(r.u16());
  if (r.bad || r.left !== 0) return { kind: 'invalid', why: 'extensions do not fill the ClientHello' };
  let name: string | undefined;
  const seen = new Set<number>();
  while (exts.left > 0) {
    const type = exts.u16();
    const ext = exts.take(exts.u16());
    if (exts.bad) return { kind: 'invalid', why: 'an extension runs past the ClientHello' };
    if (seen.has(type)) return { kind: 'invalid', why: `extension ${type} twice` };
    seen.add(type);
    if (type !== EXT_SERVER_NAME) continue;
    const list = ext.take(ext.u16());
    if (ext.bad || ext.left !== 0) return { kind: 'invalid', why: 'malformed server_name extension' };
    while (list.left > 0) {
      const nameType = list.u8();
      const value = list.take(list.u16());
      if (list.bad) return { kind: 'invalid', why: 'malformed server_name entry' };
      if (nameType !== NAME_TYPE_HOST) continue;
      if (name !== undefined) return { kind: 'invalid', why: 'two host names in server_name' };
      const text = ascii(value.bytes());
      const host = text?.toLowerCase().replace(/\.$/, '');
      if (host === undefined || host.length === 0 || host.length > 253 || !HOSTNAME.test(host)) {
        return { kind: 'invalid', why: 'server name is not a host name' };
      }
      name = host;
    }
  }
  return name === undefined ? { kind: 'no_sni' } : { kind: 'sni', name };
}

function ascii(b: Uint8Array): string | undefined {
  let s = '';
  for (const c of b) {
    if (c < 0x21 || c > 0x7e) return undefined;
    s += String.fromCharCode(c);
  }
  return s;
}
