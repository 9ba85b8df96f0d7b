// TCP ports free on a loopback address right now (the kernel's pick, taken back at once).

import net from 'node:net';

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const [port] = await freePorts(1, host);
  return port;
}

/**
 * `n` different free ports: each is held until all are picked (two freePort() calls in a row may
 * get the same port back, which made a service's listen and upstream one address).
 */
export async function freePorts<N extends number>(n: N, host = '127.0.0.1'): Promise<Ports<N>> {
  const servers = await Promise.all(Array.from({ length: n }, async () => {
    const s = net.createServer();
    await new Promise<void>((r) => s.listen(0, host, r));
    return s;
  }));
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  return ports as Ports<N>;
}

/** `N` numbers, as a tuple (so that destructuring gives numbers). */
type Ports<N extends number, R extends number[] = []> = R['length'] extends N ? R : Ports<N, [...R, number]>;
