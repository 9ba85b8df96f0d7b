// The processes of the HTTP-mode bench line (bench/http-router.ts), one per argv[2]:
//   upstream PORT            a Node http server answering a small body, keep-alive
//   node-proxy PORT UP       a plain Node http reverse proxy (keep-alive agent, pipe), the baseline
//   portwake PORT UP         portwake's HTTP Host router (HttpFrontend) with an always-ready service
// Each prints "ready" once listening and runs until killed.

import http from 'node:http';
import type { Backend, Lease } from '../../src/core/backend.ts';
import { parseHosts } from '../../src/config/hosts.ts';
import { HttpFrontend } from '../../src/proxy/frontends/http/frontend.ts';
import { Router } from '../../src/proxy/frontends/http/router.ts';

const [, , role, portText, upText] = process.argv;
const port = Number(portText);
const up = Number(upText);
const BODY = Buffer.from(`${'x'.repeat(600)}\n`);

const silent = { debug() {}, info() {}, warn() {}, error() {}, child() { return silent; } };

/** Always ready: a lease per request, as a running service gives one. */
function readyBackend(): Backend {
  const upstream = { kind: 'tcp' as const, host: '127.0.0.1', port: up };
  const lease = (): Lease => ({ upstream, revoked: false, onRevoke: undefined, bytesIn: 0, bytesOut: 0, release() {} });
  return {
    name: 'web',
    tryAcquire: lease,
    acquire: () => Promise.resolve(lease()),
    prepare() {},
    mayWake: () => true,
    upstreamFailed: () => Promise.resolve(),
    setHeld() {},
    refused() {},
  };
}

async function main(): Promise<void> {
  if (role === 'upstream') {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': BODY.length });
      res.end(BODY);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  } else if (role === 'node-proxy') {
    const agent = new http.Agent({ keepAlive: true, maxFreeSockets: 256 });
    const server = http.createServer((req, res) => {
      const out = http.request({ host: '127.0.0.1', port: up, method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  } else if (role === 'portwake') {
    const hosts = parseHosts(['localhost']);
    if (!hosts.ok) throw new Error(hosts.message);
    const backend = readyBackend();
    const frontend = new HttpFrontend({
      listen: [{ kind: 'tcp', host: '127.0.0.1', port, text: `127.0.0.1:${port}` }],
      router: new Router([{ hosts: hosts.value, paths: ['/'], target: 'web' }]),
      service: () => ({ backend, strategy: 'page', maxConnections: 4096, maxPending: 1024, holdTimeoutMs: 60_000 }),
      trustForwarded: [],
      forwardedHeaders: true,
      logger: silent,
      timeouts: { keepAliveMs: 60_000 },
    });
    await frontend.listen();
  } else {
    throw new Error(`unknown role ${String(role)}`);
  }
  process.stdout.write('ready\n');
}

void main();
