// A child process for native-ownership.test.ts: a native listener whose onAccept throws for the
// 2nd descriptor of a batch. Prints one JSON line: what happened to every descriptor of the batch.
// (A child, because the throw must become an uncaught exception, which node:test would count
// against the test running in its own process.)

import { readdirSync } from 'node:fs';
import net from 'node:net';
import { closeDescriptor, listenNative, probeNative, socketFd } from '../../src/proxy/native.ts';

const CLIENTS = 6;
const DEADLINE_MS = 5000;
const fdCount = (): number => readdirSync('/proc/self/fd').length;

const uncaught: string[] = [];
process.on('uncaughtException', (err) => uncaught.push(err.message));
let stage = 'listening';
// The old addon left the exception pending, after which no callback of its reached JavaScript.
setTimeout(() => {
  process.stdout.write(JSON.stringify({ stuck: stage, uncaught }) + '\n');
  process.exit(1);
}, 20_000).unref();

const server = net.createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const { port } = server.address() as net.AddressInfo;
let handed = 0;
const stop = listenNative(socketFd(server) ?? -1, (fd) => {
  handed++;
  closeDescriptor(fd);
  if (handed === 2) throw new Error('injected: onAccept threw for the 2nd descriptor');
}, (err) => uncaught.push(`onError: ${err.message}`));
await new Promise((resolve) => server.close(resolve));
await new Promise((resolve) => setTimeout(resolve, 20)); // libuv closes the server's descriptor after 'close'
const before = fdCount();

// Every connect() runs in this tick's nextTick queue, so all of them wait in the backlog when the
// listener is next readable: one batch.
stage = 'waiting for the server to close every client';
const clients = Array.from({ length: CLIENTS }, () => net.connect({ host: '127.0.0.1', port }));
const closedByServer = await Promise.all(clients.map((c) => new Promise<boolean>((resolve) => {
  const timer = setTimeout(() => resolve(false), DEADLINE_MS);
  const done = (): void => {
    clearTimeout(timer);
    resolve(true);
  };
  c.once('end', done);
  c.once('error', done);
  c.resume();
})));
stage = 'closing the clients';
await Promise.all(clients.map((c) => new Promise((resolve) => {
  if (c.closed) resolve(undefined);
  else c.once('close', resolve);
  c.destroy();
})));

stage = 'probing';
const leaked = fdCount() - before;
let probe = 'ok';
try {
  probeNative({ host: '127.0.0.1', port: 1 });
} catch (err) {
  probe = `threw: ${(err as Error).message}`;
}
stage = 'unlistening';
stop();
process.stdout.write(JSON.stringify({ clients: CLIENTS, handed, uncaught, closedByServer: closedByServer.filter(Boolean).length, leaked, probe }) + '\n');
