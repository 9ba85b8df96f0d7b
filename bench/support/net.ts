// Loopback helpers: free ports, and the one measurement every cold-start contender shares — how
// long from connect() until the first byte of the response to a GET.

import net from 'node:net';

/** n distinct TCP ports free on 127.0.0.1 right now (bound and released together). */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', resolve);
      });
      servers.push(s);
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

export const freePort = async (): Promise<number> => (await freePorts(1))[0] ?? 0;

/** `count` consecutive ports from a random base in [20000, 32000) that are all free on 127.0.0.1. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (12_000 - count));
    const servers: net.Server[] = [];
    let ok = true;
    for (let p = base; p < base + count && ok; p++) {
      const s = net.createServer();
      ok = await new Promise<boolean>((resolve) => {
        s.once('error', () => resolve(false));
        s.listen(p, '127.0.0.1', () => resolve(true));
      });
      if (ok) servers.push(s);
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports on 127.0.0.1`);
}

export interface FirstByte {
  /** The response began with an HTTP 2xx/3xx status line. */
  ok: boolean;
  /** connect() → first response byte (or → the failure), in ms. */
  ms: number;
  /** performance.now() at connect(). */
  t0: number;
  /** The status line, or how it failed (ECONNRESET, "closed without a response", "timeout"). */
  detail: string;
}

export const GET = (host: string, close = true): string => `GET / HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: portwake-bench\r\n${close ? 'Connection: close\r\n' : ''}\r\n`;

/** One GET on a new connection; resolves (never rejects) with the time to its first byte. */
export function firstByte(host: string, port: number, timeoutMs: number): Promise<FirstByte> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const socket = net.connect({ host, port, noDelay: true });
    let done = false;
    const finish = (ok: boolean, detail: string, at = performance.now()): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, ms: at - t0, t0, detail });
      // Read the rest politely (the proxies log a client reset otherwise), bounded.
      socket.resume();
      setTimeout(() => socket.destroy(), 2_000).unref();
    };
    const timer = setTimeout(() => finish(false, `no response within ${timeoutMs}ms`), timeoutMs);
    socket.write(GET(host));
    socket.once('data', (chunk: Buffer) => {
      const at = performance.now();
      const line = chunk.toString('latin1', 0, Math.min(chunk.length, 64)).split('\r\n')[0] ?? '';
      finish(/^HTTP\/1\.[01] [23]\d\d/.test(line), line, at);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => finish(false, err.code ?? err.message));
    socket.once('end', () => finish(false, 'closed without a response'));
    socket.once('close', () => finish(false, 'closed without a response'));
  });
}
