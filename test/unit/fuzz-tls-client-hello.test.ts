// The ClientHello parser (SNI) on real ClientHellos from Node's TLS client, cut at every byte,
// re-framed into many small records, and fuzzed (fast-check, fixed seed): random bytes and
// mutations of real hellos give a result, never a throw; bounded in size.

import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from '../../src/proxy/frontends/tls/client-hello.ts';

const RUNS = Number(process.env['PORTWAKE_FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['PORTWAKE_FUZZ_SEED'] ?? 13);

/** The bytes Node's TLS client sends first, for a server name (undefined: none). */
async function captureHello(servername: string | undefined, extra: tls.ConnectionOptions = {}): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const got = new Promise<Buffer>((resolve) => {
    server.once('connection', (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => {
        chunks.push(c);
        const all = Buffer.concat(chunks);
        if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) {
          resolve(all);
          s.destroy();
        }
      });
    });
  });
  const client = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...(servername === undefined ? {} : { servername }), ...extra });
  client.on('error', () => undefined);
  const hello = await got;
  client.destroy();
  server.close();
  return hello;
}

/** The same handshake message framed into records of at most `size` bytes. */
function reframe(hello: Buffer, size: number): Buffer {
  const message = hello.subarray(5);
  const out: Buffer[] = [];
  for (let at = 0; at < message.length; at += size) {
    const part = message.subarray(at, at + size);
    const header = Buffer.from([22, 3, 1, 0, 0]);
    header.writeUInt16BE(part.length, 3);
    out.push(header, part);
  }
  return Buffer.concat(out);
}

let hello: Buffer;
let noSni: Buffer;

describe('TLS ClientHello parser', () => {
  before(async () => {
    hello = await captureHello('App.Example.COM');
    noSni = await captureHello(undefined);
  });

  it('reads the server name of a real ClientHello, in lower case; no SNI (an IP literal) is no_sni', async () => {
    assert.deepEqual(parseClientHello(hello), { kind: 'sni', name: 'app.example.com' });
    assert.deepEqual(parseClientHello(noSni), { kind: 'no_sni' });
    const tls12 = await captureHello('old.example.com', { maxVersion: 'TLSv1.2' });
    assert.deepEqual(parseClientHello(tls12), { kind: 'sni', name: 'old.example.com' });
  });

  it('asks for more at every cut before the end, whatever the TCP segmentation', () => {
    for (let cut = 0; cut < hello.length; cut++) {
      assert.deepEqual(parseClientHello(hello.subarray(0, cut)), { kind: 'more' }, `cut at ${cut} of ${hello.length}`);
    }
  });

  it('gathers a ClientHello split over several TLS records (1, 7, 100 bytes each)', () => {
    for (const size of [1, 7, 100]) {
      const framed = reframe(hello, size);
      assert.deepEqual(parseClientHello(framed), { kind: 'sni', name: 'app.example.com' }, `records of ${size}`);
      for (const cut of [0, 4, 5, 6, Math.floor(framed.length / 2), framed.length - 1]) {
        assert.deepEqual(parseClientHello(framed.subarray(0, cut)), { kind: 'more' });
      }
    }
  });

  it('refuses what is not a ClientHello, early and with a reason', () => {
    const invalid = (b: Uint8Array): string => {
      const r = parseClientHello(b);
      return r.kind === 'invalid' ? r.why : assert.fail(`expected invalid, got ${JSON.stringify(r)}`);
    };
    assert.match(invalid(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')), /not a TLS handshake \(first byte 0x47\)/);
    assert.match(invalid(Buffer.from([22, 3, 1, 0, 4, 2, 0, 0, 0])), /handshake type 2/);
    // A ClientHello that announces 1 MiB: refused from its first bytes, not after reading them.
    assert.match(invalid(Buffer.from([22, 3, 1, 0x40, 0, 1, 0x10, 0, 0])), new RegExp(`more than ${MAX_CLIENT_HELLO_BYTES}`));
    assert.match(invalid(Buffer.from([22, 3, 1, 0xff, 0xff])), /record length/);
    assert.match(invalid(Buffer.from([22, 2, 0, 0, 1, 1])), /record version/);
    // The server name's length runs past its extension.
    const broken = Buffer.from(hello);
    const at = broken.indexOf(Buffer.from('app.example.com', 'latin1'), 0, 'latin1');
    const i = broken.indexOf(Buffer.from('App.Example.COM', 'latin1'));
    const nameAt = i >= 0 ? i : at;
    assert.ok(nameAt > 0);
    broken.writeUInt16BE(0xfff, nameAt - 2);
    assert.equal(parseClientHello(broken).kind, 'invalid');
    // A server name with a byte no host name has.
    const odd = Buffer.from(hello);
    odd[nameAt + 3] = 0x20;
    assert.match(invalid(odd), /not a host name/);
  });

  it('never throws and always decides on random bytes (fast-check)', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
      const r = parseClientHello(bytes);
      assert.ok(['more', 'sni', 'no_sni', 'invalid'].includes(r.kind));
    }), { seed: SEED, numRuns: RUNS * 4 });
    // Random bytes behind a plausible record and handshake header reach the body parser.
    fc.assert(fc.property(fc.uint8Array({ minLength: 38, maxLength: 600 }), (body) => {
      const b = Buffer.concat([Buffer.from([22, 3, 1, 0, 0, 1, 0, 0, 0]), Buffer.from(body)]);
      b.writeUInt16BE(body.length + 4, 3);
      b.writeUIntBE(body.length, 6, 3);
      const r = parseClientHello(b);
      assert.ok(r.kind === 'invalid' || r.kind === 'no_sni' || r.kind === 'sni', `got ${r.kind}`);
    }), { seed: SEED, numRuns: RUNS * 4 });
  });

  it('mutations of a real ClientHello give a result, never a throw; a found name is a host name (fast-check)', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(hello.length - 1), fc.nat(255)), { minLength: 1, maxLength: 8 }), fc.nat(hello.length), (flips, cut) => {
      const b = Buffer.from(hello);
      for (const [i, v] of flips) b[i] = v;
      const r = parseClientHello(b.subarray(0, Math.max(cut, 1)));
      if (r.kind === 'sni') assert.match(r.name, /^[a-z0-9_.-]+$/);
    }), { seed: SEED, numRuns: RUNS * 4 });
  });
});
