// The Docker provider's parts that need no engine: address parsing, TLS, the events stream parser
// against a scripted HTTP server on a Unix socket, and the inspect/event mappings.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { parseConfig } from '../../src/config/load.ts';
import { ContainerNotFoundError, ProviderError, ProviderUnreachableError } from '../../src/core/errors.ts';
import { createProviders } from '../../src/daemon/wiring.ts';
import type { ContainerEvent } from '../../src/core/provider.ts';
import { DEFAULT_DOCKER_HOST, dockerTlsFromEnv, resolveDockerHost } from '../../src/providers/docker/docker-host.ts';
import { toContainerInfo, type InspectJson } from '../../src/providers/docker/container-inspect.ts';
import { JsonLines, parseEvent } from '../../src/providers/docker/events.ts';
import { createDockerProvider } from '../../src/providers/docker/provider.ts';

describe('docker connect', () => {
  it('parses unix and tcp addresses into endpoints', () => {
    assert.equal(resolveDockerHost({ host: DEFAULT_DOCKER_HOST }).endpoint, 'unix:///var/run/docker.sock');
    assert.equal(resolveDockerHost({ host: '/run/user/1000/docker.sock' }).endpoint, 'unix:///run/user/1000/docker.sock');
    assert.equal(resolveDockerHost({ host: 'tcp://10.0.0.5' }).endpoint, 'tcp://10.0.0.5:2375');
    assert.equal(resolveDockerHost({ host: 'tcp://10.0.0.5:1234' }).endpoint, 'tcp://10.0.0.5:1234');
    assert.equal(resolveDockerHost({ host: 'tcp://engine.example', tlsVerify: true }).endpoint, 'tcp://engine.example:2376 (TLS)');
    assert.equal(resolveDockerHost({ host: 'tcp://[::1]:2375' }).endpoint, 'tcp://[::1]:2375');
  });

  it('rejects addresses it cannot use, and unreadable TLS files, with facts', () => {
    assert.throws(() => resolveDockerHost({ host: 'ssh://me@box' }), (e) => e instanceof ProviderError && /not supported/.test(e.message));
    assert.throws(() => resolveDockerHost({ host: 'unix://relative.sock' }), (e) => e instanceof ProviderError && /absolute path/.test(e.message));
    assert.throws(() => resolveDockerHost({ host: 'tcp://h:2376', certPath: '/nonexistent/certs' }),
      (e) => e instanceof ProviderUnreachableError && /tcp:\/\/h:2376 \(TLS\) is unreachable.*ca\.pem/.test(e.message));
  });

  it('the provider rejects an unusable address when created; an engine it cannot reach fails every call as unreachable, whatever DOCKER_HOST says', async (t) => {
    assert.throws(() => createDockerProvider({ host: 'ssh://me@box' }), (e) => e instanceof ProviderError && /not supported/.test(e.message));
    assert.throws(() => createDockerProvider({ host: 'tcp://h:2376', certPath: '/nonexistent/certs' }), (e) => e instanceof ProviderUnreachableError);
    // Docker's own clients read these; portwake must not (only the injected address counts).
    const saved = { host: process.env['DOCKER_HOST'], certs: process.env['DOCKER_CERT_PATH'] };
    t.after(() => {
      if (saved.host === undefined) delete process.env['DOCKER_HOST'];
      else process.env['DOCKER_HOST'] = saved.host;
      if (saved.certs === undefined) delete process.env['DOCKER_CERT_PATH'];
      else process.env['DOCKER_CERT_PATH'] = saved.certs;
    });
    process.env['DOCKER_HOST'] = 'tcp://127.0.0.1:1';
    process.env['DOCKER_CERT_PATH'] = '/nonexistent/certs';
    const provider = createDockerProvider({ host: 'unix:///nonexistent/docker.sock' });
    assert.equal(provider.endpoint, 'unix:///nonexistent/docker.sock');
    for (const call of [() => provider.inspect('x'), () => provider.start('x'), () => provider.stop('x', 1), () => provider.ping()]) {
      const err = await call().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ProviderUnreachableError, String(err));
      assert.match(err.message, /unix:\/\/\/nonexistent\/docker\.sock is unreachable/);
    }
    const ac = new AbortController();
    const aborted = await provider.inspect('x', ac.signal).then(() => undefined, (e: unknown) => e);
    assert.ok(aborted instanceof ProviderUnreachableError, 'not aborted: the failure itself');
    ac.abort(new Error('bye'));
    assert.equal(String(await provider.inspect('x', ac.signal).then(() => undefined, (e: unknown) => e)), 'Error: bye', 'aborted: the signal\'s reason');
    const events = await (async () => {
      for await (const _ of provider.events(AbortSignal.timeout(10_000))) { /* none */ }
    })().then(() => undefined, (e: unknown) => e);
    assert.ok(events instanceof ProviderUnreachableError, String(events));
  });

  it('reads the Docker CLI TLS variables from an injected environment', () => {
    assert.deepEqual(dockerTlsFromEnv({}), {});
    assert.deepEqual(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '0', DOCKER_CERT_PATH: '' }), {});
    assert.deepEqual(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/c' }), { tlsVerify: true, certPath: '/c' });
  });

  it('talks TLS with client certificates to a tcp:// engine and refuses an unknown CA', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pwtest-tls-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const good = makePki(join(dir, 'good'));
    const other = makePki(join(dir, 'other'));
    const server = createHttpsServer({ ca: good.ca, cert: good.serverCert, key: good.serverKey, requestCert: true, rejectUnauthorized: true }, (_req, res) => {
      res.end('OK');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => { server.closeAllConnections(); server.close(); });
    const host = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;

    await createDockerProvider({ host, tlsVerify: true, certPath: good.dir }).ping();
    const err = await createDockerProvider({ host, tlsVerify: true, certPath: other.dir }).ping().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ProviderUnreachableError, String(err));
    assert.match(err.message, /\(TLS\) is unreachable/);
  });

  it('an engine of engines: with tls: {ca, cert, key} talks TLS with its own files; verify: false skips the engine\'s certificate only', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pwtest-tls-engines-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const good = makePki(join(dir, 'good'));
    makePki(join(dir, 'other'));
    const server = createHttpsServer({ ca: good.ca, cert: good.serverCert, key: good.serverKey, requestCert: true, rejectUnauthorized: true }, (_req, res) => {
      res.end('OK');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => { server.closeAllConnections(); server.close(); });
    const host = `tcp://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const files = (pki: string, client: string, verify: boolean): string =>
      `{host: "${host}", tls: {ca: ${join(dir, pki, 'ca.pem')}, cert: ${join(dir, client, 'cert.pem')}, key: ${join(dir, client, 'key.pem')}, verify: ${verify}}}`;
    const config = parseConfig([
      'engines:',
      `  good: ${files('good', 'good', true)}`,
      `  wrongca: ${files('other', 'good', true)}`,
      `  noverify: ${files('other', 'good', false)}`,
      `  wrongclient: ${files('good', 'other', true)}`,
      'services:',
      '  web: {listen: 80, container: web, engine: good}',
      '',
    ].join('\n'), join(dir, 'portwake.yaml'));
    const providers = createProviders(config, {});
    await providers.get('good')?.ping();
    await providers.get('noverify')?.ping();
    for (const name of ['wrongca', 'wrongclient']) {
      const err = await providers.get(name)?.ping().then(() => undefined, (e: unknown) => e);
      assert.ok(err instanceof ProviderUnreachableError, `${name}: ${String(err)}`);
      assert.match(err.message, new RegExp(`${host.replace(/[.]/g, '\\.')} \\(TLS\\) is unreachable`));
    }
  });
});

describe('docker engine API client (scripted engine)', () => {
  it('maps the engine\'s answers: 204/304 for start and stop, the grace as ?t=, 404 as not found, an error\'s own words', async (t) => {
    const seen: string[] = [];
    const { host } = await fakeEngine(t, (req, res) => {
      const url = req.url ?? '';
      seen.push(`${req.method ?? '?'} ${url}`);
      const json = (status: number, body: unknown): void => { res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(body)); };
      if (url === '/containers/fresh/start') res.writeHead(204).end();
      else if (url === '/containers/running/start') res.writeHead(304).end();
      else if (url.startsWith('/containers/running/stop')) res.writeHead(204).end();
      else if (url.startsWith('/containers/stopped/stop')) res.writeHead(304).end();
      else if (url === '/containers/broken/start') json(500, { message: 'OCI runtime create failed: exec: "/no/such": not found\n' });
      else if (url === '/containers/texty/start') res.writeHead(502, { 'Content-Type': 'text/plain' }).end('bad gateway from a proxy in front\n');
      else if (url === '/containers/odd/json') json(200, { message: 'not a container' });
      else if (url === '/_ping') res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK');
      else json(404, { message: `No such container: ${url.split('/')[2] ?? ''}` });
    });
    const p = createDockerProvider({ host });
    assert.equal(await p.start('fresh'), true);
    assert.equal(await p.start('running'), false, '304: it was already running');
    await p.stop('running', 2.2);
    await p.stop('stopped', Number.POSITIVE_INFINITY); // 304: already stopped is success
    await p.ping();
    assert.ok(seen.includes('POST /containers/running/stop?t=3'), `grace rounded up to whole seconds: ${seen.join(', ')}`);
    assert.ok(seen.includes('POST /containers/stopped/stop?t=10'), 'an unbounded grace is the engine default of 10 s');

    const missing = await p.inspect('gone').then(() => undefined, (e: unknown) => e);
    assert.ok(missing instanceof ContainerNotFoundError, String(missing));
    const broken = await p.start('broken').then(() => undefined, (e: unknown) => e);
    assert.ok(broken instanceof ProviderError && !(broken instanceof ProviderUnreachableError), String(broken));
    assert.equal(broken.message, 'docker start of container "broken" failed: OCI runtime create failed: exec: "/no/such": not found (HTTP 500)');
    const texty = await p.start('texty').then(() => undefined, (e: unknown) => e);
    assert.match(String(texty), /start of container "texty" failed: bad gateway from a proxy in front \(HTTP 502\)/);
    const odd = await p.inspect('odd').then(() => undefined, (e: unknown) => e);
    assert.match(String(odd), /inspect of container "odd" failed: the engine's inspect answer is not a container's JSON/);
  });

  it('an activation\'s calls share one connection to the engine; a call aborted mid-flight rejects with the reason', async (t) => {
    let connections = 0;
    const { host, server } = await fakeEngine(t, (req, res) => {
      if ((req.url ?? '').includes('/slow/')) return; // never answers
      res.writeHead(req.method === 'POST' ? 204 : 200, { 'Content-Type': 'application/json' });
      res.end(req.method === 'POST' ? undefined : JSON.stringify({ Id: 'i', Name: '/c', State: { Status: 'running', Running: true } }));
    });
    server.on('connection', () => { connections++; });
    const p = createDockerProvider({ host });
    assert.equal(await p.start('c'), true);
    assert.equal((await p.inspect('c')).running, true);
    assert.equal((await p.inspect('c')).name, 'c');
    assert.equal(connections, 1, 'start and inspects over one kept-alive connection');
    const ac = new AbortController();
    const reason = new Error('shutting down');
    setTimeout(() => ac.abort(reason), 100).unref();
    assert.equal(await p.stop('slow', 30, ac.signal).then(() => undefined, (e: unknown) => e), reason);
    assert.equal((await p.inspect('c')).running, true, 'the client still works after an abort');
  });
});

describe('docker engine API client: a kept-alive connection the engine closes', () => {
  it('a request that meets it is sent once more on a new connection; a fresh connection that fails is not retried', async (t) => {
    let connections = 0;
    const served = new Map<object, number>();
    const { host, server } = await fakeEngine(t, (req, res) => {
      const socket = req.socket;
      const n = (served.get(socket) ?? 0) + 1;
      served.set(socket, n);
      // The second request on a connection finds it closed, as when the engine drops an idle
      // keep-alive connection just as a request goes out.
      if (n === 2) {
        socket.destroy();
        return;
      }
      res.writeHead(req.method === 'POST' ? 204 : 200, { 'Content-Type': 'application/json' });
      res.end(req.method === 'POST' ? undefined : JSON.stringify({ Id: 'i', Name: '/c', State: { Status: 'running', Running: true } }));
    });
    server.on('connection', () => { connections++; });
    const p = createDockerProvider({ host });
    assert.equal(await p.start('c'), true);
    assert.equal((await p.inspect('c')).running, true, 'the inspect met the closed connection and went again');
    assert.equal(connections, 2);

    // A connection that fails on its first request is the engine's answer, not a stale connection.
    const refusing = await fakeEngine(t, (req) => { req.socket.destroy(); });
    let tries = 0;
    refusing.server.on('request', () => { tries++; });
    const err = await createDockerProvider({ host: refusing.host }).inspect('c').then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ProviderUnreachableError, String(err));
    assert.equal(tries, 1);
  });
});

describe('docker events stream', () => {
  it('parses events split at any byte (even inside a UTF-8 character) and throws when the stream ends', async (t) => {
    const lines = [
      event('start', 'c1', 'web-é'),
      JSON.stringify({ Type: 'container', Action: 'exec_start: wget -q', Actor: { ID: 'c1', Attributes: { name: 'web-é' } }, time: 1 }),
      event('health_status: healthy', 'c1', 'web-é'),
      event('die', 'c1', 'web-é', { exitCode: '143' }),
    ];
    const payload = Buffer.from(`${lines.join('\n')}\n`);
    let url = '';
    const { host } = await fakeEngine(t, async (req, res) => {
      url = req.url ?? '';
      res.writeHead(200, { 'Content-Type': 'application/json' });
      for (let i = 0; i < payload.length; i += 7) {
        res.write(payload.subarray(i, i + 7));
        await delay(1);
      }
      res.end();
    });
    const seen: ContainerEvent[] = [];
    const err = await (async () => {
      for await (const e of createDockerProvider({ host }).events(AbortSignal.timeout(10_000))) seen.push(e);
    })().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ProviderUnreachableError, `a stream that ends is a broken stream: ${String(err)}`);
    assert.deepEqual(seen.map((e) => [e.kind, e.name, e.health ?? e.exitCode ?? null]), [
      ['start', 'web-é', null],
      ['health', 'web-é', 'healthy'],
      ['die', 'web-é', 143],
    ]);
    const filters = JSON.parse(new URL(url, 'http://x').searchParams.get('filters') ?? '{}') as Record<string, string[]>;
    assert.deepEqual(filters['type'], ['container']);
    assert.ok(filters['event']?.includes('health_status'));
  });

  it('a connection cut mid-stream, or an engine error, is ProviderUnreachableError', async (t) => {
    const cut = await fakeEngine(t, (_req, res) => {
      res.writeHead(200);
      res.write(`${event('start', 'c2', 'db')}\n{"Type":"cont`);
      setTimeout(() => res.socket?.destroy(), 50);
    });
    const seen: string[] = [];
    const e1 = await (async () => {
      for await (const e of createDockerProvider({ host: cut.host }).events(AbortSignal.timeout(10_000))) seen.push(e.name);
    })().then(() => undefined, (e: unknown) => e);
    assert.deepEqual(seen, ['db']);
    assert.ok(e1 instanceof ProviderUnreachableError, String(e1));

    const failing = await fakeEngine(t, (_req, res) => {
      res.writeHead(500, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'events are broken' }));
    });
    const e2 = await (async () => {
      for await (const _ of createDockerProvider({ host: failing.host }).events(AbortSignal.timeout(10_000))) { /* none */ }
    })().then(() => undefined, (e: unknown) => e);
    assert.ok(e2 instanceof ProviderUnreachableError, String(e2));
    assert.match(String((e2 as Error).cause), /events are broken/);
  });

  it('abort while waiting for the response headers, or while the consumer holds an event, returns cleanly', async (t) => {
    const silent = await fakeEngine(t, () => { /* never answers */ });
    const ac = new AbortController();
    setTimeout(() => ac.abort(new Error('bye')), 100).unref();
    for await (const _ of createDockerProvider({ host: silent.host }).events(ac.signal)) assert.fail('no events expected');

    const chatty = await fakeEngine(t, (_req, res) => {
      res.writeHead(200);
      res.write(`${event('start', 'c3', 'a')}\n${event('start', 'c3', 'b')}\n`);
    });
    const ac2 = new AbortController();
    const names: string[] = [];
    for await (const e of createDockerProvider({ host: chatty.host }).events(ac2.signal)) {
      names.push(e.name);
      ac2.abort(new Error('enough'));
    }
    assert.deepEqual(names, ['a'], 'no event is delivered after the abort');
  });

  it('JsonLines keeps a partial line until its newline arrives', () => {
    const l = new JsonLines();
    assert.deepEqual(l.push('{"a":'), []);
    assert.deepEqual(l.push('1}\n\n{"b"'), ['{"a":1}']);
    assert.deepEqual(l.push(':2}\n'), ['{"b":2}']);
  });

  it('parseEvent maps actions, ignores the rest, and keeps millisecond time', () => {
    // timeNano exceeds 2^53: JSON.parse rounds it, which milliseconds survive.
    assert.deepEqual(parseEvent('{"Type":"container","Action":"kill","Actor":{"ID":"x","Attributes":{"name":"n","signal":"15"}},"time":1700000000,"timeNano":1700000000123456789}'),
      { kind: 'kill', id: 'x', name: 'n', time: 1700000000123 });
    assert.equal(parseEvent(JSON.stringify({ Type: 'network', Action: 'connect', Actor: { ID: 'x' } })), undefined);
    assert.equal(parseEvent(JSON.stringify({ Type: 'container', Action: 'exec_die', Actor: { ID: 'x' } })), undefined);
    assert.equal(parseEvent(event('health_status: unhealthy', 'x', 'n'))?.health, 'unhealthy');
    assert.equal(parseEvent(event('die', 'x', 'n'))?.exitCode, undefined);
    assert.throws(() => parseEvent('{not json'));
  });

  it("parseEvent reads Podman's own action names: died as die (with its exit code), remove as destroy", () => {
    assert.deepEqual(parseEvent('{"Type":"container","Action":"died","Actor":{"ID":"x","Attributes":{"name":"n","exitCode":"3"}},"time":1700000000}'),
      { kind: 'die', id: 'x', name: 'n', time: 1700000000000, exitCode: 3 });
    assert.deepEqual(parseEvent('{"Type":"container","Action":"remove","Actor":{"ID":"x","Attributes":{"name":"n"}},"time":1700000000}'),
      { kind: 'destroy', id: 'x', name: 'n', time: 1700000000000 });
  });
});

describe('docker inspect mapping', () => {
  const base: InspectJson = {
    Id: 'abc',
    Name: '/web',
    State: { Status: 'running', Running: true, ExitCode: 0, StartedAt: '2026-11-24T10:00:00.123456789Z', Health: { Status: 'starting' } },
    Config: { ExposedPorts: { '80/tcp': {}, '53/udp': {} }, Healthcheck: { Test: ['CMD-SHELL', 'true'] } },
    HostConfig: { NetworkMode: 'default', PortBindings: { '443/tcp': [{ HostIp: '', HostPort: '8443' }], '8080/tcp': [{ HostIp: '', HostPort: '' }] } },
    NetworkSettings: {
      Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }, { HostIp: '::', HostPort: '32768' }], '53/udp': null, '443/tcp': [{ HostIp: '0.0.0.0', HostPort: '8443' }] },
      Networks: { bridge: { IPAddress: '172.17.0.2', GlobalIPv6Address: '' }, app: { IPAddress: '10.1.0.3', GlobalIPv6Address: 'fd00::3' } },
    },
  };

  it('maps a running container: tcp ports only, live bindings, networks, health, default mode as bridge', () => {
    assert.deepEqual(toContainerInfo(base), {
      id: 'abc',
      name: 'web',
      status: 'running',
      running: true,
      health: 'starting',
      exitCode: undefined,
      exposedPorts: [80, 443, 8080],
      published: [
        { containerPort: 80, hostIp: '0.0.0.0', hostPort: 32768 },
        { containerPort: 80, hostIp: '::', hostPort: 32768 },
        { containerPort: 443, hostIp: '0.0.0.0', hostPort: 8443 },
      ],
      networks: [
        { name: 'bridge', ipAddress: '172.17.0.2', globalIPv6Address: '' },
        { name: 'app', ipAddress: '10.1.0.3', globalIPv6Address: 'fd00::3' },
      ],
      networkMode: 'bridge',
      hasHealthcheck: true,
      startedAt: Date.parse('2026-11-24T10:00:00.123Z'),
      restartPolicy: 'no',
    });
  });

  it('maps the restart policy ("" is the engine\'s "no")', () => {
    assert.equal(toContainerInfo({ ...base, HostConfig: { RestartPolicy: { Name: 'unless-stopped' } } }).restartPolicy, 'unless-stopped');
    assert.equal(toContainerInfo({ ...base, HostConfig: { RestartPolicy: { Name: '' } } }).restartPolicy, 'no');
  });

  it('maps a stopped container: exit code, fixed bindings only, no health, NONE healthcheck', () => {
    const info = toContainerInfo({
      ...base,
      State: { Status: 'exited', Running: false, ExitCode: 137, StartedAt: '0001-01-01T00:00:00Z', Health: { Status: 'unhealthy' } },
      Config: { ExposedPorts: null, Healthcheck: { Test: ['NONE'] } },
      HostConfig: { ...base.HostConfig, NetworkMode: 'host' },
      NetworkSettings: { Ports: {}, Networks: null },
    });
    assert.equal(info.exitCode, 137);
    assert.equal(info.hasHealthcheck, false);
    assert.equal(info.startedAt, undefined, 'the zero time means it never ran');
    assert.equal(info.networkMode, 'host');
    assert.deepEqual(info.published, [{ containerPort: 443, hostIp: '0.0.0.0', hostPort: 8443 }]);
    assert.deepEqual(info.networks, []);
    assert.equal(info.health, 'unhealthy', 'the last health result stays visible after exit');
  });
});

function event(action: string, id: string, name: string, attrs: Record<string, string> = {}): string {
  return JSON.stringify({ status: action, id, Type: 'container', Action: action, Actor: { ID: id, Attributes: { name, image: 'x', ...attrs } }, scope: 'local', time: 1700000000, timeNano: 1700000000000000000 });
}

/** An HTTP server on a Unix socket standing in for the engine. */
async function fakeEngine(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void | Promise<void>): Promise<{ host: string; server: Server }> {
  const dir = mkdtempSync(join(tmpdir(), 'pwtest-fake-engine-'));
  const socketPath = join(dir, 'docker.sock');
  const server = createHttpServer((req, res) => { void handler(req, res); });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { host: `unix://${socketPath}`, server };
}

interface Pki { dir: string; ca: Buffer; serverCert: Buffer; serverKey: Buffer }

/** A CA, a server certificate for 127.0.0.1 and a client certificate, in Docker's file layout. */
function makePki(dir: string): Pki {
  mkdirSync(dir, { recursive: true });
  const ssl = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }); };
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=pwtest-ca');
  writeFileSync(join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\n');
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${who}-key.pem`, '-out', `${who}.csr`, '-subj', `/CN=pwtest-${who}`);
    ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', `${who}-cert.pem`, '-days', '2',
      ...(who === 'server' ? ['-extfile', 'san.cnf'] : []));
  }
  copyFileSync(join(dir, 'client-cert.pem'), join(dir, 'cert.pem'));
  copyFileSync(join(dir, 'client-key.pem'), join(dir, 'key.pem'));
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  return { dir, ca: read('ca.pem'), serverCert: read('server-cert.pem'), serverKey: read('server-key.pem') };
}
