// A child process for native-ownership.test.ts: a native frontend whose backend throws while the
// 2nd connection of a batch of held descriptors gets its socket (the check phase's hand-over).
// Prints one JSON line: what happened to every client. (A child, because the throw becomes an
// uncaught exception, which node:test would count against a test in its own process.)

import { readdirSync } from 'node:fs';
import net from 'node:net';
import { Frontend } from '../../src/proxy/frontends/l4/frontend.ts';
import { DEFAULT_NATIVE_POLICY } from '../../src/proxy/native.ts';
import { FakeBackend, recordingLogger } from '../unit/proxy-support.ts';

const CLIENTS = 5;
const DEADLINE_MS = 5000;
const fdCount = (): number => readdirSync('/proc/self/fd').length;

class ThrowingBackend extends FakeBackend {
  holds = 0;
  override setHeld(delta: number): void {
    if (delta > 0 && ++this.holds === 2) throw new Error('injected: setHeld threw for the 2nd held connection');
    super.setHeld(delta);
  }
}

const uncaught: string[] = [];
process.on('uncaughtException', (err) => uncaught.push(err.message));
setTimeout(() => {
  process.stdout.write(JSON.stringify({ stuck: true, uncaught }) + '\n');
  process.exit(1);
}, 20_000).unref();

const frontend = new Frontend({
  backend: new ThrowingBackend({ kind: 'tcp', host: '127.0.0.1', port: 1 }),
  listen: [{ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }],
  maxConnections: 100,
  maxPending: 100,
  logger: recordingLogger(),
  native: DEFAULT_NATIVE_POLICY,
});
await frontend.listen();
const { port } = frontend.listening.addresses[0] as net.AddressInfo;
await new Promise((resolve) => setTimeout(resolve, 20));
const before = fdCount();

// Every connect() runs in this tick: all of them wait in the backlog for one accept batch.
const clients = Array.from({ length: CLIENTS }, () => net.connect({ host: '127.0.0.1', port }));
const closed = await Promise.all(clients.map((c, i) => new Promise<boolean>((resolve) => {
  if (i === 0) {
    resolve(false); // held, as it should be: the service is not ready
    return;
  }
  const timer = setTimeout(() => resolve(false), DEADLINE_MS);
  const done = (): void => {
    clearTimeout(timer);
    resolve(true);
  };
  c.once('end', done);
  c.once('error', done);
  c.resume();
})));
await frontend.close({ graceMs: 0 });
await Promise.all(clients.map((c) => new Promise((resolve) => {
  if (c.closed) resolve(undefined);
  else c.once('close', resolve);
  c.destroy();
})));
await new Promise((resolve) => setTimeout(resolve, 50));
process.stdout.write(JSON.stringify({ clients: CLIENTS, uncaught, closedAfterTheThrow: closed.filter(Boolean).length, leaked: fdCount() - before }) + '\n');
process.exit(0);
