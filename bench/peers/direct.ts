// The limit every cold start is measured against: the container's own start-and-listen time.
// `docker start` through the API (as portwake does), its address from one inspect, then a tight
// connect loop on the container's own IP until the app accepts, and the same GET as the clients.

import net from 'node:net';
import type { Engine } from '../../test/support/engine.ts';
import { containerIp } from '../support/backends.ts';
import { GET, type FirstByte } from '../support/net.ts';

export interface DirectColdStart extends FirstByte {
  /** docker start returned (ms after t0). */
  startedMs: number;
  /** The app accepted a connection (ms after t0). */
  listeningMs: number;
}

export async function directColdStart(engine: Pick<Engine, 'docker'>, container: string, port: number, timeoutMs: number): Promise<DirectColdStart> {
  const t0 = performance.now();
  await engine.docker.getContainer(container).start();
  const startedMs = performance.now() - t0;
  const ip = await containerIp(engine, container);
  const deadline = t0 + timeoutMs;
  for (;;) {
    const attempt = await connectOnce(ip, port);
    if (attempt !== undefined) {
      const listeningMs = performance.now() - t0;
      const fb = await requestOn(attempt, ip, Math.max(1, deadline - performance.now()));
      return { ...fb, ms: fb.ms + listeningMs, t0, startedMs, listeningMs };
    }
    if (performance.now() > deadline) return { ok: false, ms: performance.now() - t0, t0, detail: `not listening within ${timeoutMs}ms`, startedMs, listeningMs: Number.NaN };
  }
}

/** A connected socket, or undefined when refused (the app does not listen yet). */
function connectOnce(host: string, port: number): Promise<net.Socket | undefined> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, noDelay: true });
    s.once('connect', () => {
      s.removeAllListeners('error');
      resolve(s);
    });
    s.once('error', () => {
      s.destroy();
      resolve(undefined);
    });
  });
}

function requestOn(socket: net.Socket, host: string, timeoutMs: number): Promise<Omit<FirstByte, 't0'>> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let done = false;
    const finish = (ok: boolean, detail: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, ms: performance.now() - t0, detail });
      socket.resume();
      setTimeout(() => socket.destroy(), 2_000).unref();
    };
    const timer = setTimeout(() => finish(false, `no response within ${timeoutMs}ms`), timeoutMs);
    socket.once('data', (chunk: Buffer) => {
      const line = chunk.toString('latin1', 0, Math.min(chunk.length, 64)).split('\r\n')[0] ?? '';
      finish(/^HTTP\/1\.[01] [23]\d\d/.test(line), line);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
    socket.once('end', () => finish(false, 'closed without a response'));
    socket.write(GET(host));
  });
}
