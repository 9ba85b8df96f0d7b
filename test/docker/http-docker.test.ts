// The HTTP Host router against real containers (busybox httpd with a CGI that hashes the request
// body; a busybox nc WebSocket-ish echo), through the daemon, with curl and Node's fetch: Host
// routing of several services on one port, 404, wildcard, paths, keep-alive, a POST held through
// a cold start with its body intact, a large streamed body, 503 + Retry-After on a failed start, and
// an upgraded connection open past idleTimeout keeping its container up.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { eventually, freePort, freePorts, isRunning, startDaemon } from '../support/daemon-harness.ts';
import { scratchDir, startFileDaemon } from '../support/file-daemon.ts';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';

const run = promisify(execFile);

/** A shell line writing `lines` to `file` (single quotes escaped). */
function writeLines(file: string, lines: string[]): string {
  return `printf '%s\\n' ${lines.map((l) => `'${l.replaceAll("'", "'\\''")}'`).join(' ')} > ${file}`;
}

/** busybox httpd serving "hello-NAME" at / and /cgi-bin/echo (service name, method, body length and sha256); listens after `delayS`. */
function httpdWithCgi(name: string, delayS = 0): string[] {
  const cgi = writeLines('/www/cgi-bin/echo', [
    '#!/bin/sh',
    'printf "Content-Type: text/plain\\r\\n\\r\\n"',
    `echo "service=${name} method=$REQUEST_METHOD length=$CONTENT_LENGTH"`,
    'head -c "${CONTENT_LENGTH:-0}" | sha256sum',
  ]);
  return ['/bin/sh', '-c', `mkdir -p /www/cgi-bin && ${cgi} && chmod +x /www/cgi-bin/echo && echo hello-${name} > /www/index.html && ${delayS > 0 ? `sleep ${delayS} && ` : ''}exec httpd -f -p 80 -h /www`];
}

/** busybox nc answering any request with 101, then echoing every byte (a WebSocket stand-in). */
function upgradeEcho(): string[] {
  const script = writeLines('/ws.sh', [
    '#!/bin/sh',
    'while read -r line; do line=$(printf "%s" "$line" | tr -d "\\r"); [ -z "$line" ] && break; done',
    'printf "HTTP/1.1 101 Switching Protocols\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\n\\r\\n"',
    'exec cat',
  ]);
  return ['/bin/sh', '-c', `${script} && chmod +x /ws.sh && exec nc -ll -p 80 -e /ws.sh`];
}

async function container(t: TestContext, engine: Engine, image: string, hint: string, cmd: string[]): Promise<string> {
  const c = await createContainer(engine, { image, cmd, expose: [80], nameHint: hint, stopSignal: 'SIGKILL' });
  t.after(() => c.remove());
  return c.name;
}

async function curl(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run('curl', ['-sS', '--max-time', '60', ...args], { maxBuffer: 16 * 1024 * 1024 });
}

/** Status, headers and body of one curl request (-i). */
async function curlHttp(args: string[]): Promise<{ status: number; head: string; body: string }> {
  const { stdout } = await curl(['-i', ...args]);
  // A 100 Continue may come first.
  const parts = stdout.split('\r\n\r\n');
  while (parts.length > 1 && /^HTTP\/1\.1 100/.test(parts[0] ?? '')) parts.shift();
  const head = parts.shift() ?? '';
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0), head, body: parts.join('\r\n\r\n') };
}

describe('HTTP router against real containers', () => {
  it('routes several services on one port by Host, wildcard and path; 404 for an unknown host; keep-alive; a POST held through a cold start arrives whole', async (t) => {
    const engine = await getEngine();
    const image = await ensureImage('busybox');
    const [web, api, preview, cgi] = await Promise.all([
      container(t, engine, image, 'http-web', httpdWithCgi('web')),
      container(t, engine, image, 'http-api', httpdWithCgi('api')),
      container(t, engine, image, 'http-preview', httpdWithCgi('preview')),
      container(t, engine, image, 'http-cgi', httpdWithCgi('cgi', 2)),
    ]);
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, [
      `http: {listen: "127.0.0.1:${port}"}`,
      'services:',
      `  web: {hosts: [localhost], container: ${web}, port: 80}`,
      `  api: {hosts: ["127.0.0.1"], container: ${api}, port: 80}`,
      `  preview: {hosts: ["*.preview.test"], container: ${preview}, port: 80}`,
      `  cgi: {hosts: [localhost], paths: [/cgi-bin], container: ${cgi}, port: 80}`,
      '',
    ].join('\n'));
    const base = `http://127.0.0.1:${port}`;

    // Node's fetch: the Host is the URL's; two services behind one port, each started on demand.
    const viaName = await fetch(`http://localhost:${port}/`);
    const webText = await viaName.text();
    assert.equal(webText.trim(), 'hello-web', `${viaName.status}: ${webText}`);
    const viaIp = await fetch(`${base}/`);
    const apiText = await viaIp.text();
    assert.equal(apiText.trim(), 'hello-api', `${viaIp.status}: ${apiText}`);

    // curl: a wildcard host, an unknown host.
    assert.equal((await curl(['-H', 'Host: pr-7.preview.test', `${base}/`])).stdout.trim(), 'hello-preview');
    const unknown = await curlHttp(['-H', 'Host: nope.test', `${base}/`]);
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /no service for host "nope\.test"/);

    // A POST to a stopped service whose app listens 2 s after its container starts: held, then served whole.
    assert.equal(await isRunning(engine, cgi), false);
    const dir = await mkdtemp(join(tmpdir(), 'pw-http-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const body = randomBytes(512 * 1024);
    await writeFile(join(dir, 'body'), body);
    const posted = await curlHttp(['-H', 'Host: localhost', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${join(dir, 'body')}`, `${base}/cgi-bin/echo`]);
    assert.equal(posted.status, 200, posted.head + posted.body);
    assert.match(posted.body, /service=cgi method=POST length=524288/);
    assert.ok(posted.body.includes(createHash('sha256').update(body).digest('hex')), posted.body);

    // A large body, streamed through (portwake never holds it whole).
    const large = randomBytes(24 * 1024 * 1024);
    await writeFile(join(dir, 'large'), large);
    const sized = await curlHttp(['-H', 'Host: localhost', '--data-binary', `@${join(dir, 'large')}`, `${base}/cgi-bin/echo`]);
    assert.ok(sized.body.includes(createHash('sha256').update(large).digest('hex')), sized.body.slice(0, 300));

    // Keep-alive: curl re-uses its connection for a second request (to another service, too).
    const both = await curl(['-v', '-H', 'Host: localhost', `${base}/`, `${base}/cgi-bin/echo`]);
    assert.match(both.stderr, /Re-using existing connection/);
    assert.match(both.stdout, /hello-web/);
    assert.match(both.stdout, /service=cgi/);

    const status = daemon.status();
    assert.equal(status.find((s) => s.name === 'cgi')?.http?.requests, 3);
  });

  it('answers 503 with Retry-After and the reason when the start fails', async (t) => {
    const engine = await getEngine();
    const image = await ensureImage('busybox');
    const broken = await container(t, engine, image, 'http-broken', ['/bin/sh', '-c', 'exit 3']);
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, [
      `http: {listen: "127.0.0.1:${port}"}`,
      'services:',
      `  broken: {hosts: [broken.test], container: ${broken}, port: 80, startTimeout: 20s}`,
      '',
    ].join('\n'));
    const api = await curlHttp(['-H', 'Host: broken.test', '-H', 'Accept: application/json', `http://127.0.0.1:${port}/`]);
    assert.equal(api.status, 503);
    assert.match(api.head, /\r\nretry-after: \d+/i);
    assert.match(api.body, /^portwake: service "broken" could not start: .*exited/);
    assert.equal(api.body.trim().split('\n').length, 1);
    assert.equal(daemon.status()[0]?.http?.unavailable, 1);
  });

  it('keeps a container up while an upgraded connection is open past idleTimeout, and stops it after', async (t) => {
    const engine = await getEngine();
    const image = await ensureImage('busybox');
    const ws = await container(t, engine, image, 'http-ws', upgradeEcho());
    const port = await freePort();
    await startDaemon(t, engine, [
      `http: {listen: "127.0.0.1:${port}"}`,
      'services:',
      `  ws: {hosts: [ws.test], container: ${ws}, port: 80, ready: tcp, idleTimeout: 2s}`,
      '',
    ].join('\n'));
    const socket = net.connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    let received = '';
    socket.on('data', (c: Buffer) => { received += c.toString('latin1'); });
    socket.write('GET /chat HTTP/1.1\r\nHost: ws.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await eventually('101', () => received.includes('HTTP/1.1 101'), 60_000);
    socket.write('ping-1');
    await eventually('echo', () => received.endsWith('ping-1'));
    // Well past idleTimeout: the open connection holds a lease, so the container stays.
    await new Promise((r) => setTimeout(r, 5_000));
    assert.equal(await isRunning(engine, ws), true);
    socket.write('ping-2');
    await eventually('echo after idleTimeout', () => received.endsWith('ping-2'));
    socket.destroy();
    await eventually('stopped once the connection closed', async () => !(await isRunning(engine, ws)), 30_000);
  });

  it('reload: routes rebuilt from the new file, an unchanged listener kept open (a keep-alive client goes on), a new one bound', async (t) => {
    const engine = await getEngine();
    const image = await ensureImage('busybox');
    const [a, b] = await Promise.all([
      container(t, engine, image, 'http-rl-a', httpdWithCgi('a')),
      container(t, engine, image, 'http-rl-b', httpdWithCgi('b')),
    ]);
    const [port, port2] = await freePorts(2);
    const dir = await scratchDir(t);
    const v1 = ['services:', `  a: {hosts: [a.test], container: ${a}, port: 80}`, `  b: {hosts: [b.test], container: ${b}, port: 80}`, ''];
    const running = await startFileDaemon(t, engine, dir, [`http: {listen: "127.0.0.1:${port}"}`, ...v1].join('\n'));
    const { daemon } = running;
    const write = (text: string): Promise<void> => running.write(text);
    // One client connection, kept alive across the reload.
    const socket = net.connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    let received = '';
    socket.on('data', (c: Buffer) => { received += c.toString('latin1'); });
    const ask = async (host: string, expect: RegExp): Promise<void> => {
      received = '';
      socket.write(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      await eventually(`an answer for ${host}`, () => expect.test(received), 60_000);
    };
    await ask('a.test', /hello-a/);
    await write([`http: {listen: ["127.0.0.1:${port}", "127.0.0.1:${port2}"]}`, 'services:', `  b: {hosts: [a.test, b.test], container: ${b}, port: 80}`, ''].join('\n'));
    await daemon.reload();
    await ask('a.test', /hello-b/);
    assert.equal(socket.destroyed, false);
    assert.equal((await curl(['-H', 'Host: b.test', `http://127.0.0.1:${port2}/`])).stdout.trim(), 'hello-b');
    // Back to one listener: the second is closed.
    await write([`http: {listen: "127.0.0.1:${port}"}`, ...v1].join('\n'));
    await daemon.reload();
    await assert.rejects(curl(['-H', 'Host: b.test', `http://127.0.0.1:${port2}/`]));
    await ask('a.test', /hello-a/);
  });
});
