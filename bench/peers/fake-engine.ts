// A stand-in Docker API on a unix socket that records every request: /_ping answers, the events
// stream stays open, anything else is a 404. It shows what portwake asks the engine at start-up
// (for the scale test's 1,000 services whose containers do not exist).

import http from 'node:http';
import type { Socket } from 'node:net';

export interface FakeEngine {
  socketPath: string;
  /** "GET /v1.41/events?…" per request, in order. */
  requests: string[];
  close(): Promise<void>;
}

export async function startFakeEngine(socketPath: string): Promise<FakeEngine> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    const path = req.url ?? '';
    requests.push(`${req.method ?? 'GET'} ${path}`);
    if (/\/_ping$/.test(path.split('?')[0] ?? '')) {
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
