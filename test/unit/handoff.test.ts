// The hand-over protocol (src/proxy/handoff.ts) and the addon's explicit ownership results: who owns
// a client after forwardNative() returns or fails, and after the addon's end report.

import assert from 'node:assert/strict';
import { fstatSync } from 'node:fs';
import net from 'node:net';
import { test } from 'node:test';
import { adoptClient, closeClient, Handoff, type ClientFd } from '../../src/proxy/handoff.ts';
import { abortNative, forwardNative, type NativeEnd, type NativeId } from '../../src/proxy/native.ts';
import type { ConnectionOptions } from '../../src/proxy/pipe/connection.ts';
import type { NativeConnectionOptions } from '../../src/proxy/pipe/native-connection.ts';
import { closedPort, connect, howItEnds, nativeLoopbackListener, readAll, stuckUpstream, waitFor } from './proxy-support.ts';

const isOpen = (fd: number): boolean => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

class Ends implements NativeEnd {
  ends: { errno: number; returned: ClientFd | undefined }[] = [];
  onNativeEnd(errno: number, _side: number, returned: ClientFd | undefined): void {
    this.ends.push({ errno, returned });
  }
  onNativeCounts(): void {}
}

test('a hand-over is taken once: a second take() throws instead of giving the client to two owners', () => {
  const socket = new net.Socket();
  const handoff = Handoff.toConnection(socket, { chunks: [Buffer.from('early')] });
  assert.equal(handoff.to, 'connection');
  const taken = handoff.take();
  assert.equal(taken.socket, socket);
  assert.deepEqual(taken.early.chunks.map(String), ['early']);
  assert.throws(() => handoff.take(), /a client handed to the connection owner was taken twice/);
  socket.destroy();
});

test('an illegal hand-over does not compile', () => {
  // Each line below is a type error (tsc fails on an @ts-expect-error that is not one); at run time
  // they are never called.
  const never = (): void => {
    const socket = new net.Socket();
    const toHeld = Handoff.toHeld(socket);
    // @ts-expect-error a client handed back for holding is not a Connection's
    const connection: ConnectionOptions['client'] = toHeld;
    // @ts-expect-error a socket is not a native connection's client
    const native: NativeConnectionOptions['client'] = Handoff.toConnection(socket);
    // @ts-expect-error a plain number is not an accepted client's descriptor
    Handoff.toNative(3);
    // @ts-expect-error nor can it be forwarded natively
    forwardNative(3, { path: '/x' }, -1, 1000, new Ends());
    // @ts-expect-error a Connection takes a hand-over, not the socket itself
    const raw: ConnectionOptions['client'] = socket;
    void [connection, native, raw];
  };
  assert.equal(typeof never, 'function');
});

test('forwardNative() that fails at once says so and leaves the client with the caller, open and untouched', async (t) => {
  const { port, accepted } = await nativeLoopbackListener(t);
  const client = await connect(t, { host: '127.0.0.1', port });
  await waitFor('the connection accepted', () => accepted.length === 1);
  const fd = (accepted.pop() ?? -1) as ClientFd;
  const owner = new Ends();

  const result = forwardNative(fd, { host: '127.0.0.1', port: await closedPort() }, -1, 5000, owner);
  assert.ok(typeof result !== 'number', 'a refused loopback connect fails inside the call');
  assert.equal(result.failed, 'connect');
  assert.equal(result.client, fd, 'the client comes back with the result');
  assert.equal(result.error.code, 'ECONNREFUSED');
  assert.ok(isOpen(fd), 'the descriptor is still open: the caller owns it');

  // Still the same connection: adopted, it reaches the client.
  const reply = readAll(client);
  adoptClient(result.client).end('still yours');
  assert.equal((await reply).toString(), 'still yours');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual(owner.ends, [], 'the owner hears of no end: the addon never had the client');
});

test('the addon gives a client whose upstream never connected back in its end report; otherwise it closes it', async (t) => {
  const upstream = await stuckUpstream(t);
  const { port, accepted } = await nativeLoopbackListener(t);
  const forwarded = async (): Promise<{ client: net.Socket; fd: ClientFd; id: NativeId; owner: Ends }> => {
    const client = await connect(t, { host: '127.0.0.1', port });
    await waitFor('the connection accepted', () => accepted.length === 1);
    const fd = (accepted.pop() ?? -1) as ClientFd;
    const owner = new Ends();
    const id = forwardNative(fd, { host: upstream.host, port: upstream.port }, -1, 30_000, owner);
    assert.equal(typeof id, 'number', 'the connect is pending: the addon took the client');
    return { client, fd, id: id as NativeId, owner };
  };

  // Asked to hand it back while connecting: the end report returns the same descriptor, open.
  const a = await forwarded();
  abortNative(a.id, true);
  await waitFor('the end report', () => a.owner.ends.length === 1);
  const returned = a.owner.ends[0]?.returned;
  assert.equal(returned, a.fd, 'the report gives the client back');
  assert.ok(returned !== undefined && isOpen(returned), 'open: the caller owns it again');
  const reply = readAll(a.client);
  adoptClient(returned).end('back');
  assert.equal((await reply).toString(), 'back');

  // Aborted without a hand-back: the addon closes the client itself and returns nothing.
  const b = await forwarded();
  const ending = howItEnds(b.client);
  abortNative(b.id);
  await waitFor('the end report', () => b.owner.ends.length === 1);
  assert.equal(b.owner.ends[0]?.returned, undefined);
  assert.match(await ending, /^(end|ECONNRESET)$/);
});

test('closeClient() closes a descriptor nobody else owns', async (t) => {
  const { port, accepted } = await nativeLoopbackListener(t);
  const client = await connect(t, { host: '127.0.0.1', port });
  await waitFor('the connection accepted', () => accepted.length === 1);
  const fd = (accepted.pop() ?? -1) as ClientFd;
  const ending = howItEnds(client);
  closeClient(fd);
  assert.equal(await ending, 'end', 'an orderly close');
  assert.equal(isOpen(fd), false);
});
