// TLS SNI routing against the real engine: two nginx containers serving TLS with certificates
// made by the test (openssl req -x509, SAN), behind one tls: listener. The server name picks the
// service, which starts on the first connection (cold start through SNI); the TLS stream reaches
// the container untouched (the client verifies the container's own certificate). Unknown names,
// no SNI, and clients that send nothing are closed and start nothing.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it, type TestContext } from 'node:test';
import { freePorts, isRunning, startDaemon } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine, type Engine, type TestContainer } from '../support/engine.ts';

let engine: Engine;
let nginx: string;
let dir: string;

/** A self-signed certificate for `host` (SAN DNS:host): key and cert in PEM. */
function makeCert(host: string): { key: string; cert: string } {
  const key = join(dir, `${host}.key`);
  const cert = join(dir, `${host}.crt`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', `/CN=${host}`, '-addext', `subjectAltName=DNS:${host}`, '-keyout', key, '-out', cert], { stdio: 'pipe' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/** A stopped nginx answering "hello from NAME" over TLS on 443 with the given certificate. */
async function tlsNginx(t: TestContext, name: string, pem: { key: string; cert: string }, extra = ''): Promise<TestContainer> {
  const conf = [
    'daemon off;', 'worker_processes 1;', 'pid /tmp/nginx.pid;', 'error_log stderr;', 'events { worker_connections 64; }',
    'http {', '  access_log off;', '  client_body_temp_path /tmp;',
    '  server {',
    `    listen 443 ssl${extra};`,
    '    ssl_certificate /tmp/tls.crt;', '    ssl_certificate_key /tmp/tls.key;',
    `    location / { return 200 "hello from ${name}\\n"; }`,
    '  }', '}',
  ].join('\n');
  const write = (text: string, file: string): string => `printf '%s\\n' '${text.replaceAll("'", "'\\''")}' > ${file}`;
  const c = await createContainer(engine, {
    image: nginx,
    nameHint: `tls-${name}`,
    cmd: ['/bin/sh', '-c', `${write(pem.cert, '/tmp/tls.crt')} && ${write(pem.key, '/tmp/tls.key')} && ${write(conf, '/tmp/nginx.conf')} && exec /usr/sbin/nginx -e stderr -c /tmp/nginx.conf`],
    expose: [443],
  });
  t.after(() => c.remove());
  return c;
}

/** GET / over TLS with Node's client, verifying the certificate against `ca`; the body. */
function tlsGet(port: number, servername: string, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca, timeout: 30_000 }, () => {
      s.write(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
    });
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('end', () => resolve(Buffer.concat(chunks).toString()));
    s.on('timeout', () => s.destroy(new Error('timeout')));
    s.on('error', reject);
  });
}

/** How a TLS handshake for `servername` (undefined: no SNI) ends: 'ok' or the error's code/message. */
function handshake(port: number, servername: string | undefined): Promise<string> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, timeout: 30_000, ...(servername === undefined ? {} : { servername }) }, () => {
      s.destroy();
      resolve('ok');
    });
    s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.on('timeout', () => { s.destroy(); resolve('timeout'); });
  });
}

/** openssl s_client -servername NAME, sending one request; its whole output. */
function sClient(port: number, servername: string, caFile: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', servername, '-CAfile', caFile, '-verify_return_error', '-quiet', '-ign_eof'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    p.stderr.on('data', (c: Buffer) => { out += c.toString(); });
    p.on('error', reject);
    p.on('close', () => resolve(out));
    p.stdin.end(`GET / HTTP/1.1\r\nHost: ${servername}\r\nConnection: close\r\n\r\n`);
  });
}

describe('TLS SNI routing against a real Docker engine', { timeout: 240_000 }, () => {
  before(async () => {
    engine = await getEngine();
    nginx = await ensureImage('nginx');
    dir = mkdtempSync(join(tmpdir(), 'pwtest-tls-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('routes by server name to two sleeping TLS services, each started by its first connection; unknown names and no SNI are closed', async (t) => {
    const a = makeCert('a.pw.test');
    const b = makeCert('b.pw.test');
    const ca = `${a.cert}${b.cert}`;
    const caFile = join(dir, 'ca.pem');
    execFileSync('sh', ['-c', `cat "${dir}/a.pw.test.crt" "${dir}/b.pw.test.crt" > "${caFile}"`]);
    const ca1 = await tlsNginx(t, 'a', a);
    const cb = await tlsNginx(t, 'b', b);
    const [tlsPort, pa, pb] = await freePorts(3);
    const { provider, events } = await startDaemon(t, engine, [
      'tls:',
      `  listen: 127.0.0.1:${tlsPort}`,
      'services:',
      '  a:',
      `    listen: 127.0.0.1:${pa}`,
      `    container: ${ca1.name}`,
      '    port: 443',
      '    hosts: a.pw.test',
      '  b:',
      `    listen: 127.0.0.1:${pb}`,
      `    container: ${cb.name}`,
      '    port: 443',
      '    hosts: ["*.b.pw.test", b.pw.test]',
      '',
    ].join('\n'));

    // Unknown name, no SNI, nothing at all: closed, nothing started.
    assert.notEqual(await handshake(tlsPort, 'nobody.pw.test'), 'ok');
    assert.notEqual(await handshake(tlsPort, undefined), 'ok');
    const silent = net.connect({ host: '127.0.0.1', port: tlsPort });
    silent.on('error', () => undefined);
    t.after(() => silent.destroy());
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(provider.startRequests, 0);
    assert.equal(await isRunning(engine, ca1.name), false);
    assert.equal(await isRunning(engine, cb.name), false);

    // Cold start through SNI, Node's client verifying a's own certificate end to end.
    assert.match(await tlsGet(tlsPort, 'a.pw.test', ca), /hello from a/);
    assert.equal(await isRunning(engine, ca1.name), true);
    assert.equal(await isRunning(engine, cb.name), false, 'only the named service started');

    // openssl s_client for b (cold), then again warm.
    const first = await sClient(tlsPort, 'b.pw.test', caFile);
    assert.match(first, /hello from b/, first);
    assert.doesNotMatch(first, /verify error/i);
    assert.match(await tlsGet(tlsPort, 'b.pw.test', ca), /hello from b/);
    assert.match(await tlsGet(tlsPort, 'A.PW.TEST', ca), /hello from a/, 'server names compare without case');
    assert.equal(provider.starts, 2);
    const opens = events.filter((e) => e.type === 'connection' && e.change === 'open');
    assert.ok(opens.length >= 4);
  });

  it('tls.defaultService takes no-SNI and unknown names; a wake filter and helloTimeout apply', async (t) => {
    const dflt = makeCert('default.pw.test');
    const c = await tlsNginx(t, 'default', dflt);
    const [tlsPort, p] = await freePorts(2);
    const { provider } = await startDaemon(t, engine, [
      'tls:',
      `  listen: 127.0.0.1:${tlsPort}`,
      '  defaultService: d',
      '  helloTimeout: 500ms',
      'services:',
      '  d:',
      `    listen: 127.0.0.1:${p}`,
      `    container: ${c.name}`,
      '    port: 443',
      '    wake: {deny: {sources: [127.0.0.2]}}',
      '',
    ].join('\n'));
    // A client that sends nothing is closed after helloTimeout.
    const silent = net.connect({ host: '127.0.0.1', port: tlsPort });
    silent.on('error', () => undefined);
    silent.resume();
    await new Promise<void>((resolve) => silent.once('close', () => resolve()));
    // A refused source: closed, nothing started.
    const refused = await new Promise<string>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port: tlsPort, localAddress: '127.0.0.2' });
      const s = tls.connect({ socket, servername: 'x.pw.test', rejectUnauthorized: false }, () => resolve('ok'));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    assert.notEqual(refused, 'ok');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(provider.startRequests, 0);
    assert.match(await tlsGet(tlsPort, 'default.pw.test', dflt.cert), /hello from default/);
    assert.equal(await handshake(tlsPort, undefined), 'ok', 'no SNI goes to the default service');
    assert.equal(await handshake(tlsPort, 'other.pw.test'), 'ok', 'an unknown name goes to the default service');
  });
});
