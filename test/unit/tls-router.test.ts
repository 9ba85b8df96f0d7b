// The TLS router on real sockets with stub targets: a ClientHello in many TCP segments is routed
// with every byte intact; garbage, unknown names and silent clients are closed; limits hold.
// And `tls:` in the config.

import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { describe, it, type TestContext } from 'node:test';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { EarlyData } from '../../src/proxy/handoff.ts';
import { TlsRouter, type TlsTarget } from '../../src/proxy/frontends/tls/router.ts';
import { howItEnds, recordingLogger, waitFor } from './proxy-support.ts';

interface Routed { name: string; socket: net.Socket; early: EarlyData }

async function startRouter(t: TestContext, names: string[], o: { helloTimeoutMs?: number; maxReading?: number } = {}): Promise<{ router: TlsRouter; port: number; routed: Routed[] }> {
  const routed: Routed[] = [];
  const target = (name: string): TlsTarget => ({ name, admit: (socket, early) => { routed.push({ name, socket, early }); t.after(() => socket.destroy()); } });
  const router = new TlsRouter({
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }],
    route: (n) => (n !== undefined && names.includes(n) ? target(n) : undefined),
    logger: recordingLogger(),
    ...o,
  });
  await router.listen();
  t.after(() => router.close());
  return { router, port: (router.addresses[0] as net.AddressInfo).port, routed };
}

/** The first flight Node's TLS client sends for a server name. */
async function helloBytes(servername: string): Promise<Buffer> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const got = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (c: Buffer) => { resolve(c); s.destroy(); })));
  const c = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, servername, rejectUnauthorized: false });
  c.on('error', () => undefined);
  const b = await got;
  c.destroy();
  server.close();
  return b;
}

describe('TLS router', () => {
  it('routes a ClientHello that arrives a few bytes at a time, handing over every byte and the rest of the stream', async (t) => {
    const { router, port, routed } = await startRouter(t, ['app.example.com']);
    const hello = await helloBytes('app.example.com');
    const c = net.connect({ host: '127.0.0.1', port });
    t.after(() => c.destroy());
    await new Promise((r) => c.once('connect', r));
    for (let at = 0; at < hello.length; at += 50) {
      c.write(hello.subarray(at, at + 50));
      await new Promise((r) => setTimeout(r, 2));
    }
    await waitFor('routed', () => routed.length === 1);
    assert.equal(routed[0]?.name, 'app.example.com');
    assert.ok(Buffer.concat(routed[0]?.early.chunks ?? []).equals(hello), 'the ClientHello bytes, intact');
    assert.equal(router.reading, 0);
    // What follows stays in the socket for its new owner.
    c.write('after');
    const socket = routed[0].socket;
    const next = await new Promise<Buffer>((resolve) => { socket.once('data', resolve); socket.resume(); });
    assert.equal(next.toString(), 'after');
  });

  it('closes garbage, unknown names, no SNI and silent clients; routes nothing', async (t) => {
    const { router, port, routed } = await startRouter(t, ['app.example.com'], { helloTimeoutMs: 300 });
    const ends: Promise<string>[] = [];
    const send = async (bytes: Buffer | undefined): Promise<void> => {
      const c = net.connect({ host: '127.0.0.1', port });
      t.after(() => c.destroy());
      ends.push(howItEnds(c));
      await new Promise((r) => c.once('connect', r));
      if (bytes !== undefined) c.write(bytes);
    };
    await send(Buffer.from('GET / HTTP/1.1\r\nHost: app.example.com\r\n\r\n'));
    await send(await helloBytes('other.example.com'));
    await send(Buffer.from([22, 3, 1, 0x40, 0, 1, 0x20, 0, 0])); // announces 2 MiB
    await send(undefined); // silent: helloTimeout
    await send(Buffer.from([22, 3, 1])); // a few bytes, then nothing
    const how = await Promise.all(ends);
    assert.equal(how.length, 5);
    assert.equal(routed.length, 0);
    assert.equal(router.reading, 0);
  });

  it('maxReading: connections past it are closed at accept', async (t) => {
    const { router, port } = await startRouter(t, [], { maxReading: 2, helloTimeoutMs: 10_000 });
    const sockets = [0, 1, 2].map(() => net.connect({ host: '127.0.0.1', port }));
    t.after(() => sockets.forEach((s) => s.destroy()));
    const third = howItEnds(sockets[2]!);
    await waitFor('two reading', () => router.reading === 2);
    assert.match(await Promise.race([third, new Promise<string>((r) => setTimeout(() => r('still open'), 5_000))]), /^(end|close|ECONNRESET)$/);
    await router.close();
    assert.equal(router.reading, 0);
  });
});

describe('tls: in the config', () => {
  const base = 'services:\n  a: {listen: 127.0.0.1:8001, container: a, hosts: a.example.com, tlsPort: 8443, proxyProtocol: v2}\n  b: {listen: 127.0.0.1:8002, container: b, hosts: ["*.b.example.com"]}\n';

  it('reads tls:, hosts, tlsPort and proxyProtocol; tls: ADDR is short for {listen: ADDR}', () => {
    const c = parseConfig(`tls:\n  listen: [127.0.0.1:8443, "[::1]:8443"]\n  defaultService: b\n  helloTimeout: 2s\n${base}`, 'test.yaml');
    assert.deepEqual(c.tls?.listen.map((l) => l.text), ['127.0.0.1:8443', '[::1]:8443']);
    assert.equal(c.tls?.defaultService, 'b');
    assert.equal(c.tls?.helloTimeoutMs, 2000);
    assert.deepEqual(c.services[0]?.hosts, [{ kind: 'exact', name: 'a.example.com' }]);
    assert.equal(c.services[0]?.tlsPort, 8443);
    assert.equal(c.services[0]?.proxyProtocol, 'v2');
    assert.equal(parseConfig(`tls: 443\n${base}`, 'test.yaml').tls?.listen[0]?.text, '443');
  });

  it('a host two services claim on the same path is one error with both routers on, not two', () => {
    assert.throws(() => parseConfig(`http: 8080\ntls: 8443\n${base}  c: {listen: 127.0.0.1:8003, container: c, hosts: a.example.com}\n`, 'test.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.message.match(/a\.example\.com/g)?.length, 1, err.message);
      assert.match(err.message, /host "a\.example\.com" is claimed by service "a"/);
      return true;
    });
  });

  it('says where and what is wrong', () => {
    const cases: Array<[string, RegExp]> = [
      [`tls: {listen: 8443, defaultService: nope}\n${base}`, /tls\.defaultService: no service named "nope" \(services: a, b\)/],
      [`tls: 8443\n${base}  c: {listen: 127.0.0.1:8003, container: c, hosts: [x.example.com, A.Example.com]}\n`, /services\.c\.hosts\[1\]: "a\.example\.com" is also a host of service "a"/],
      [`tls: systemd:tls\n${base}`, /tls\.listen: systemd sockets are not supported/],
      [`tls: 127.0.0.1:8001\n${base}`, /tls\.listen: "127\.0\.0\.1:8001" is also used by service "a"/],
      [`http: 8080\ntls: [8443, "0.0.0.0:8080"]\n${base}`, /tls\.listen\[1\]: "0\.0\.0\.0:8080" overlaps "8080" of the HTTP router/],
      [`http: 8080\ntls: 8443\n${base}  c: {listen: 127.0.0.1:8003, container: c, hosts: a.example.com, paths: /api}\n`,
        /services\.c\.hosts: "a\.example\.com" is also a host of service "a" \(the HTTP router tells them apart by path; the TLS router sees the host name only\)/],
      [`tls: {listen: 8443, defaultSevice: b}\n${base}`, /tls\.defaultSevice: unknown key.*did you mean "defaultService"/],
      ['services:\n  a: {listen: 8001, container: a, proxyProtocol: v3}\n', /services\.a\.proxyProtocol: expected v1 \(text\) or v2 \(binary\), got "v3"/],
      ['services:\n  a: {listen: 8001, container: a, hosts: "bad host"}\n', /services\.a\.hosts: invalid host name/],
      ['services:\n  a: {listen: 8001, container: a, tlsPort: 0}\n', /services\.a\.tlsPort: port 0 is out of range/],
    ];
    for (const [yaml, want] of cases) {
      assert.throws(() => parseConfig(yaml, 'test.yaml'), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, want);
        return true;
      });
    }
  });
});
