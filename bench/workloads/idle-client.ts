// Child process of the scale workload: opens COUNT connections to HOST:PORT (CONCURRENCY at a
// time), sends one keep-alive GET on each and waits for its response, then holds them all idle.
// Reports {opened, ok, errors} over IPC; closes everything on "close", on parent exit, or after
// MAX_LIFE_MS whatever happens.
// Usage: node --import tsx idle-client.ts HOST PORT COUNT CONCURRENCY

import net from 'node:net';
import { GET } from '../support/net.ts';

const MAX_LIFE_MS = 180_000;
const [host = '127.0.0.1', portText = '0', countText = '0', concurrencyText = '100'] = process.argv.slice(2);
const port = Number(portText);
const count = Number(countText);
const concurrency = Number(concurrencyText);

const sockets: net.Socket[] = [];
let closing = false;
const errors: Record<string, number> = {};
let ok = 0;
let failed = 0;

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    sockets.push(s);
    let settled = false;
    const settle = (good: boolean, why?: string): void => {
      if (settled) return;
      settled = true;
      if (good) ok++;
      else {
        failed++;
        errors[why ?? 'unknown'] = (errors[why ?? 'unknown'] ?? 0) + 1;
      }
      resolve();
    };
    s.write(GET(host, false));
    s.once('data', (c: Buffer) => settle(c.toString('latin1', 0, 15).startsWith('HTTP/1.1 200'), 'bad response'));
    s.on('error', (e: NodeJS.ErrnoException) => settle(false, e.code ?? e.message));
    s.once('close', () => {
      // A held connection that closes before the parent says so is an error too.
      if (settled && !closing) {
        errors['closed while idle'] = (errors['closed while idle'] ?? 0) + 1;
      }
      settle(false, 'closed before the response');
    });
    s.setTimeout(30_000, () => s.destroy(new Error('no response within 30s')));
    s.once('data', () => s.setTimeout(0));
  });
}

const closeAll = (): void => {
  closing = true;
  for (const s of sockets) s.destroy();
  setTimeout(() => process.exit(0), 200);
};
process.on('message', (m) => { if (m === 'close') closeAll(); });
process.on('disconnect', closeAll);
setTimeout(closeAll, MAX_LIFE_MS).unref();

async function main(): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      await openOne();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  process.send?.({ opened: sockets.length, ok, failed, errors });
  // Later failures (a proxy dropping idle connections) are reported on request.
  process.on('message', (m) => { if (m === 'report') process.send?.({ opened: sockets.length, ok, failed, errors }); });
}

void main();
