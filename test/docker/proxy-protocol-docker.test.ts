// proxyProtocol against a real nginx that expects it (`listen 80 proxy_protocol`) and answers with
// $proxy_protocol_addr: v1 and v2, an IPv4 client bound to 127.0.0.2 and an IPv6 client on ::1,
// on a cold start (the header goes out before the held client's bytes) and warm; and through the
// tls: listener (nginx `listen 443 ssl proxy_protocol`).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it, type TestContext } from 'node:test';
import { freePort, freePorts, startDaemon } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine, type Engine, type TestContainer } from '../support/engine.ts';

let engine: Engine;
let nginx: string;
let dir: string;

const write = (text: string, file: string): string => `printf '%s\\n' '${text.replaceAll("'", "'\\''")}' > ${file}`;

/** A stopped nginx that takes the PROXY protocol on 80 (and on 443 with TLS) and answers "client=ADDR:PORT". */
async function proxiedNginx(t: TestContext, pem: { key: string; cert: string } | undefined): Promise<TestContainer> {
  const conf = [
    'daemon off;', 'worker_processes 1;', 'pid /tmp/nginx.pid;', 'error_log stderr;', 'events { worker_connections 64; }',
    'http {', '  access_log off;', '  client_body_temp_path /tmp;',
    '  server {',
    '    listen 80 proxy_protocol;',
    ...(pem === undefined ? [] : ['    listen 443 ssl proxy_protocol;', '    ssl_certificate /tmp/tls.crt;', '    ssl_certificate_key /tmp/tls.key;']),
    '    location / { return 200 "client=$proxy_protocol_addr:$proxy_protocol_port server=$proxy_protocol_server_addr\\n"; }',
    '  }', '}',
  ].join('\n');
  const files = pem === undefined ? '' : `${write(pem.cert, '/tmp/tls.crt')} && ${write(pem.key, '/tmp/tls.key')} && `;
  const c = await createContainer(engine, {
    image: nginx,
    nameHint: 'pp',
    cmd: ['/bin/sh', '-c', `${files}${write(conf, '/tmp/nginx.conf')} && exec /usr/sbin/nginx -e stderr -c /tmp/nginx.conf`],
    expose: pem === undefined ? [80] : [80, 443],
  });
  t.after(() => c.remove());
  return c;
}

/** GET / through portwake from a given local address; the body and the local port used. */
function getFrom(host: string, port: number, localAddress: string): Promise<{ body: string; localPort: number }> {
  return new Promise((resolve, reject) => {
    let localPort = 0;
    const req = http.get({ host, port, localAddress, path: '/', agent: false, timeout: 30_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ body, localPort }));
    });
    req.on('socket', (s: net.Socket) => s.on('connect', () => { localPort = s.localPort ?? 0; }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

describe('PROXY protocol against a real nginx', { timeout: 240_000 }, () => {
  before(async () => {
    engine = await getEngine();
    nginx = await ensureImage('nginx');
    dir = mkdtempSync(join(tmpdir(), 'pwtest-pp-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const version of ['v1', 'v2'] as const) {
    it(`proxyProtocol: ${version} — nginx sees the client's IPv4 (127.0.0.2) and IPv6 (::1) address, cold and warm`, async (t) => {
      const c = await proxiedNginx(t, undefined);
      const port = await freePort();
      await startDaemon(t, engine, [
        'services:',
        '  app:',
        `    listen: ["127.0.0.1:${port}", "[::1]:${port}"]`,
        `    container: ${c.name}`,
        '    port: 80',
        `    proxyProtocol: ${version}`,
        '',
      ].join('\n'));
      const cold = await getFrom('127.0.0.1', port, '127.0.0.2');
      assert.equal(cold.body.trim(), `client=127.0.0.2:${cold.localPort} server=127.0.0.1`, 'cold start: the held connection carries the header');
      const warm = await getFrom('127.0.0.1', port, '127.0.0.2');
      assert.equal(warm.body.trim(), `client=127.0.0.2:${warm.localPort} server=127.0.0.1`, 'warm (the native data path when built)');
      const v6 = await getFrom('::1', port, '::1');
      assert.equal(v6.body.trim(), `client=::1:${v6.localPort} server=::1`);
    });
  }

  it('proxyProtocol through the tls: listener: the header first, then the untouched TLS stream', async (t) => {
    const key = join(dir, 'k.pem');
    const crt = join(dir, 'c.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=pp.pw.test', '-addext', 'subjectAltName=DNS:pp.pw.test', '-keyout', key, '-out', crt], { stdio: 'pipe' });
    const pem = { key: readFileSync(key, 'utf8'), cert: readFileSync(crt, 'utf8') };
    const c = await proxiedNginx(t, pem);
    const [tlsPort, port] = await freePorts(2);
    await startDaemon(t, engine, [
      'tls:',
      `  listen: 127.0.0.1:${tlsPort}`,
      'services:',
      '  app:',
      `    listen: 127.0.0.1:${port}`,
      `    container: ${c.name}`,
      '    port: 443',
      '    hosts: pp.pw.test',
      '    proxyProtocol: v2',
      '',
    ].join('\n'));
    const body = await new Promise<{ text: string; localPort: number }>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: tlsPort, localAddress: '127.0.0.2' });
      const s = tls.connect({ socket, servername: 'pp.pw.test', ca: pem.cert }, () => {
        s.write('GET / HTTP/1.1\r\nHost: pp.pw.test\r\nConnection: close\r\n\r\n');
      });
      let text = '';
      s.on('data', (d: Buffer) => { text += d.toString(); });
      s.on('end', () => resolve({ text, localPort: socket.localPort ?? 0 }));
      s.on('error', reject);
    });
    assert.match(body.text, new RegExp(`client=127\\.0\\.0\\.2:${body.localPort} server=127\\.0\\.0\\.1`));
  });
});
