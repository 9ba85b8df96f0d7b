// A stand-in Docker API on a unix socket that records every request: /_ping answers, the events
// stream stays open, the `live` containers start and inspect as running with host networking (so
// their app is a loopback port), anything else is a 404. It shows what portwake asks the engine at
// start-up (for the scale test's 1,000 services whose containers do not exist), and lets one of
// them activate without a real engine.

import http from 'node:http';
import type { Socket } from 'node:net';

export interface FakeEngine {
  socketPath: string;
  /** "GET /v1.41/events?…" per request, in order. */
  requests: string[];
  close(): Promise<void>;
}

/** live: container name → the loopback port its app listens on. */
export async function startFakeEngine(socketPath: string, live: ReadonlyMap<string, number> = new Map()): Promise<FakeEngine> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    requests.push(`${req.method ?? 'GET'} ${path}`);
    const container = /^(?:\/v[\d.]+)?\/containers\/([^/]+)\/(start|json)(?:\?|$)/.exec(path);
    const port = container === null ? undefined : live.get(decodeURIComponent(container[1] ?? ''));
    if (container !== null && port !== undefined) {
      if (container[2] === 'start') res.writeHead(204).end();
      else {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({
          Id: `fake-${port}`, Name: `/${container[1] ?? ''}`,
          State: { Status: 'running', Running: true, StartedAt: new Date().toISOString() },
          Config: { ExposedPorts: { [`${port}/tcp`]: {} } },
          HostConfig: { NetworkMode: 'host' },
          NetworkSettings: { Ports: {}, Networks: { host: { IPAddress: '' } } },
        }));
      }
    } else if (/\/_ping$/.test(path.split('?')[0] ?? '')) {
      res.writeHead(200, { 'content-type': 'text/plain', 'api-version': '1.41' }).end('OK');
    } else if (/\/events(\?|$)/.test(path)) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.flushHeaders();
    } else if (/\/version$/.test(path)) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ Version: '20.10.24', ApiVersion: '1.41' }));
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ message: 'fake engine: no such object' }));
    }
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    socketPath,
    requests,
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
