// The HTTP Host router against scripted backends and real Node upstreams: routing, keep-alive,
// X-Forwarded-*, requests held through a start (bodies intact), the waiting page and its poll, 503s
// with Retry-After, wake refusals, the connect retry, 100-continue, Upgrade, garbage and slow clients.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { parseHosts } from '../../src/config/hosts.ts';
import type { Endpoint } from '../../src/core/provider.ts';
import { HttpFrontend, type HttpFrontendOptions, type HttpService } from '../../src/proxy/frontends/http/frontend.ts';
import { Router } from '../../src/proxy/frontends/http/router.ts';
import { closedPort, FakeBackend, recordingLogger, waitFor } from './proxy-support.ts';

interface Echo { method: string; url: string; headers: http.IncomingHttpHeaders; bytes: number; sha256: string; upstream: string }

/** An upstream that answers every request with what it received (and its own name); Upgrade: echoes bytes. */
async function echoUpstream(t: TestContext, name: string): Promise<{ endpoint: Endpoint; server: http.Server; connections: () => number }> {
  let connections = 0;
  const server = http.createServer((req, res) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => { hash.update(c); bytes += c.length; });
    req.on('end', () => {
      const echo: Echo = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes, sha256: hash.digest('hex'), upstream: name };
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name });
      res.end(JSON.stringify(echo));
    });
  });
  server.on('connection', () => { connections += 1; });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade ?? ''}\r\nConnection: Upgrade\r\nX-Upstream: ${name}\r\n\r\n`);
    if (head.length > 0) socket.write(head);
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => { server.closeAllConnections(); server.close(); });
  const { port } = server.address() as net.AddressInfo;
  return { endpoint: { kind: 'tcp', host: '127.0.0.1', port }, server, connections: () => connections };
}

function named(backend: FakeBackend, name: string): FakeBackend {
  Object.defineProperty(backend, 'name', { value: name });
  return backend;
}

function service(backend: FakeBackend, extra: Partial<HttpService> = {}): HttpService {
  return { backend, strategy: 'page', maxConnections: 100, maxPending: 100, holdTimeoutMs: 10_000, ...extra };
}

function hosts(...names: string[]) {
  const p = parseHosts(names);
  assert.ok(p.ok);
  return p.value;
}

async function startRouter(t: TestContext, services: Record<string, HttpService>, routes: Array<{ hosts: string[]; paths?: string[]; target: string }>, options: Partial<HttpFrontendOptions> = {}): Promise<{ frontend: HttpFrontend; port: number; base: string }> {
  const router = new Router(routes.map((r) => ({ hosts: hosts(...r.hosts), paths: r.paths ?? ['/'], target: r.target })));
  const frontend = new HttpFrontend({
    listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }],
    router,
    service: (n) => services[n],
    trustForwarded: [],
    forwardedHeaders: true,
    logger: recordingLogger(),
    ...options,
  });
  await frontend.listen();
  t.after(() => frontend.close({ graceMs: 0 }));
  const port = (frontend.addresses[0] as net.AddressInfo).port;
  return { frontend, port, base: `http://127.0.0.1:${port}` };
}

interface Answer { status: number; headers: http.IncomingHttpHeaders; body: string }

/** One request with an explicit Host header (fetch cannot set it). */
function request(port: number, host: string, options: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string; agent?: http.Agent } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: options.method ?? 'GET', path: options.path ?? '/', headers: { host, ...options.headers }, agent: options.agent ?? false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

const echoOf = (a: Answer): Echo => JSON.parse(a.body) as Echo;

describe('HTTP router: routing', () => {
  it('routes by Host (any case, with a port) and wildcard, longest path prefix first; unknown hosts get a 404', async (t) => {
    const [a, b, c] = await Promise.all([echoUpstream(t, 'a'), echoUpstream(t, 'b'), echoUpstream(t, 'c')]);
    const web = named(new FakeBackend(a.endpoint), 'web');
    const api = named(new FakeBackend(b.endpoint), 'api');
    const preview = named(new FakeBackend(c.endpoint), 'preview');
    for (const x of [web, api, preview]) x.ready = true;
    const { port } = await startRouter(t, { web: service(web), api: service(api), preview: service(preview) }, [
      { hosts: ['app.example.com'], target: 'web' },
      { hosts: ['app.example.com'], paths: ['/api'], target: 'api' },
      { hosts: ['*.preview.example.com'], target: 'preview' },
    ]);
    assert.equal(echoOf(await request(port, 'App.Example.COM:8080', { path: '/x' })).upstream, 'a');
    assert.equal(echoOf(await request(port, 'app.example.com', { path: '/api' })).upstream, 'b');
    assert.equal(echoOf(await request(port, 'app.example.com', { path: '/api/v1?q=1' })).upstream, 'b');
    assert.equal(echoOf(await request(port, 'app.example.com', { path: '/apix' })).upstream, 'a');
    assert.equal(echoOf(await request(port, 'pr-1.preview.example.com')).upstream, 'c');
    const unknown = await request(port, 'a.b.preview.example.com');
    assert.equal(unknown.status, 404);
    assert.match(unknown.body, /no service for host "a\.b\.preview\.example\.com"/);
    assert.equal((await request(port, '')).status, 404);
    // Every lease was given back once its response ended.
    await waitFor('leases released', () => [web, api, preview].every((x) => x.leases.every((l) => l.releases === 1)));
  });

  it('keeps client and upstream connections alive across requests, and sets X-Forwarded-* (replacing untrusted ones)', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    web.ready = true;
    const { port } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    t.after(() => agent.destroy());
    let clientSockets = 0;
    const spy = agent.createConnection.bind(agent);
    agent.createConnection = ((...args: Parameters<typeof spy>) => { clientSockets += 1; return spy(...args); });
    for (let i = 0; i < 5; i++) {
      const e = echoOf(await request(port, 'app.example.com', { agent, headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https' } }));
      assert.equal(e.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(e.headers['x-forwarded-proto'], 'http');
      assert.equal(e.headers['x-forwarded-host'], 'app.example.com');
      assert.equal(e.headers.host, 'app.example.com');
    }
    assert.equal(clientSockets, 1, 'one client connection for five requests');
    assert.equal(a.connections(), 1, 'one upstream connection for five requests');
  });

  it('keeps a trusted proxy\'s X-Forwarded-* (appending), and sets none when forwardedHeaders is off', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    web.ready = true;
    const trusted = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }], { trustForwarded: ['127.0.0.0/8'] });
    const e = echoOf(await request(trusted.port, 'app.example.com', { headers: { 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'outer.example' } }));
    assert.equal(e.headers['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
    assert.equal(e.headers['x-forwarded-proto'], 'https');
    assert.equal(e.headers['x-forwarded-host'], 'outer.example');
    const off = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }], { forwardedHeaders: false });
    const f = echoOf(await request(off.port, 'app.example.com'));
    assert.equal(f.headers['x-forwarded-for'], undefined);
  });
});

describe('HTTP router: while the service starts', () => {
  it('holds a POST (body intact) and an API GET until ready, while a browser gets the waiting page and its poll says when', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    const { port, frontend } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const body = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const post = request(port, 'app.example.com', { method: 'POST', path: '/upload', body, headers: { 'content-type': 'application/octet-stream' } });
    const api = request(port, 'app.example.com', { path: '/data', headers: { accept: 'application/json' } });
    await waitFor('two held', () => web.held === 2);
    const page = await request(port, 'app.example.com', { headers: { accept: 'text/html,application/xhtml+xml' } });
    assert.equal(page.status, 503);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['retry-after'], '2');
    assert.match(page.body, /Starting <span id="service">web<\/span>/);
    assert.match(page.body, /http-equiv="refresh"/);
    assert.doesNotMatch(page.body, /<(script|link|img)[^>]+src=/, 'no external assets');
    assert.equal((await request(port, 'app.example.com', { headers: { 'x-portwake-poll': '1' } })).status, 202);
    assert.equal(frontend.stats('web').waitingPages, 1);
    web.becomeReady();
    const posted = echoOf(await post);
    assert.equal(posted.bytes, body.length);
    assert.equal(posted.sha256, createHash('sha256').update(body).digest('hex'));
    assert.equal(echoOf(await api).url, '/data');
    assert.equal((await request(port, 'app.example.com', { headers: { 'x-portwake-poll': '1' } })).status, 204);
    assert.equal(frontend.stats('web').held, 0);
    assert.equal(web.held, 0);
  });

  it('answers 503 with Retry-After and the reason when the start fails, to held requests and to the next page load', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    const { port, frontend } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const held = request(port, 'app.example.com', { method: 'PUT', body: 'x' });
    const page = await request(port, 'app.example.com', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 503);
    await waitFor('held', () => web.held === 1);
    web.failStart(new Error('container "web" exited with code 1'));
    const failed = await held;
    assert.equal(failed.status, 503);
    assert.equal(failed.headers['retry-after'], '5');
    assert.match(failed.body, /^portwake: service "web" could not start: container "web" exited with code 1\n$/);
    const poll = await request(port, 'app.example.com', { headers: { 'x-portwake-poll': '1' } });
    assert.equal(poll.status, 503);
    const next = await request(port, 'app.example.com', { headers: { accept: 'text/html' } });
    assert.equal(next.status, 503);
    assert.match(String(next.headers['content-type']), /^text\/plain/);
    assert.match(next.body, /could not start/);
    assert.deepEqual(web.refusals, ['start_failed']);
    assert.equal(frontend.stats('web').unavailable, 2);
  });

  it('answers 503 hold_timeout when the service is not ready within holdTimeout; block strategy holds browsers too', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    const { port } = await startRouter(t, { web: service(web, { strategy: 'block', holdTimeoutMs: 200 }) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const answer = await request(port, 'app.example.com', { headers: { accept: 'text/html' } });
    assert.equal(answer.status, 503);
    assert.match(answer.body, /did not become ready/);
    assert.deepEqual(web.refusals, ['hold_timeout']);
  });

  it('asks the wake filter with the request\'s facts; a refused request gets a fast 503 and starts nothing', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    web.wakes = (r) => r.path !== '/robots.txt';
    const { port } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const answer = await request(port, 'app.example.com', { path: '/robots.txt', headers: { 'user-agent': 'UptimeRobot/2.0' } });
    assert.equal(answer.status, 503);
    assert.deepEqual(web.wakeRequests, [{ source: '127.0.0.1', method: 'GET', path: '/robots.txt', userAgent: 'UptimeRobot/2.0' }]);
    assert.deepEqual(web.refusals, ['wake_refused']);
    assert.equal(web.prepared.length, 0);
    assert.equal(web.acquireCalls, 0);
  });

  it('refuses past maxPending with 503', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    const { port } = await startRouter(t, { web: service(web, { maxPending: 1 }) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const first = request(port, 'app.example.com');
    await waitFor('held', () => web.held === 1);
    assert.equal((await request(port, 'app.example.com')).status, 503);
    web.becomeReady();
    assert.equal((await first).status, 200);
    assert.deepEqual(web.refusals, ['max_pending']);
  });
});

describe('HTTP router: upstream faults, 100-continue, Upgrade', () => {
  it('reports an upstream that refuses, retries once, then answers 502', async (t) => {
    const web = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: await closedPort() });
    web.ready = true;
    const { port } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const answer = await request(port, 'app.example.com', { method: 'POST', body: 'hello' });
    assert.equal(answer.status, 502);
    assert.equal(web.upstreamFailures.length, 1);
    assert.equal(web.leases.length, 2);
    assert.ok(web.leases.every((l) => l.releases === 1));
  });

  it('after the retry the request reaches the restarted upstream', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend({ kind: 'tcp', host: '127.0.0.1', port: await closedPort() });
    web.ready = true;
    web.onUpstreamFailed = () => { web.upstream = a.endpoint; };
    const { port } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const e = echoOf(await request(port, 'app.example.com', { method: 'POST', body: 'hello' }));
    assert.equal(e.bytes, 5);
  });

  it('passes Expect: 100-continue to the upstream, whose 100 reaches the client', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    web.ready = true;
    const { port } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, headers: { host: 'app.example.com', expect: '100-continue', 'content-length': '4' } });
      let continued = false;
      req.on('continue', () => { continued = true; req.end('abcd'); });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (continued ? resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }) : reject(new Error('no 100 Continue'))));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(echoOf(answer).bytes, 4);
  });

  it('passes an Upgrade through as a raw pipe, held through a start, the lease kept while it is open', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    const { port, frontend } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const socket = net.connect(port, '127.0.0.1');
    t.after(() => socket.destroy());
    socket.write('GET /ws HTTP/1.1\r\nHost: app.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\nearly');
    await waitFor('held', () => web.held === 1);
    web.becomeReady();
    let received = '';
    socket.on('data', (c: Buffer) => { received += c.toString(); });
    await waitFor('101 and the early bytes echoed', () => received.includes('101 Switching Protocols') && received.endsWith('early'));
    assert.match(received, /X-Upstream: a/);
    socket.write('-more');
    await waitFor('echo', () => received.endsWith('early-more'));
    assert.equal(frontend.stats('web').upgraded, 1);
    assert.equal(web.leases[0]?.releases, 0, 'the lease is held while the upgraded connection is open');
    socket.destroy();
    await waitFor('lease released', () => web.leases[0]?.releases === 1);
  });
});

describe('HTTP router: bad clients', () => {
  it('answers garbage with 400 and closes a client that sends a partial head or nothing, within headersTimeout', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    web.ready = true;
    const { port } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }], { timeouts: { headersMs: 300, checkIntervalMs: 100, requestMs: 1000 } });
    const ending = (data: string | undefined): Promise<{ text: string; ms: number }> => new Promise((resolve) => {
      const started = Date.now();
      const s = net.connect(port, '127.0.0.1', () => { if (data !== undefined) s.write(data); });
      let text = '';
      s.on('data', (c: Buffer) => { text += c.toString(); });
      s.on('error', () => undefined);
      s.on('close', () => resolve({ text, ms: Date.now() - started }));
      t.after(() => s.destroy());
    });
    const garbage = await ending('\x16\x03\x01\x00\xa5garbage\r\n\r\n');
    assert.match(garbage.text, /^HTTP\/1\.1 400/);
    const partial = await ending('GET / HTTP/1.1\r\nHost: app.exa');
    assert.ok(partial.ms < 10_000, `closed after ${partial.ms}ms`);
    const nothing = await ending(undefined);
    assert.ok(nothing.ms < 10_000, `closed after ${nothing.ms}ms`);
    // The router still serves.
    assert.equal((await request(port, 'app.example.com')).status, 200);
  });

  it('answers held requests 503 at shutdown', async (t) => {
    const a = await echoUpstream(t, 'a');
    const web = new FakeBackend(a.endpoint);
    const { port, frontend } = await startRouter(t, { web: service(web) }, [{ hosts: ['app.example.com'], target: 'web' }]);
    const held = request(port, 'app.example.com');
    await waitFor('held', () => web.held === 1);
    await frontend.close({ graceMs: 1000 });
    const answer = await held;
    assert.equal(answer.status, 503);
    assert.match(answer.body, /shutting down/);
  });
});
