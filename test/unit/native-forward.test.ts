// The native data path's own calls (src/proxy/native.ts over src/native/), below the frontend.

import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { ClientFd } from '../../src/proxy/handoff.ts';
import { closeDescriptor, forwardNative, listenNative, nativeCounts, socketFd, type NativeEnd, type NativeId } from '../../src/proxy/native.ts';
import { connect, tempDir, waitFor } from './proxy-support.ts';

/** A native listener on 127.0.0.1 that collects the descriptors it accepts (telling onAccept, if given, at once). */
async function collectingListener(t: TestContext, onAccept?: () => void): Promise<{ port: number; accepted: number[] }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const fd = socketFd(server);
  assert.ok(fd !== undefined, 'the listening socket has a descriptor');
  const accepted: number[] = [];
  const stop = listenNative(fd, (c) => {
    accepted.push(c);
    onAccept?.();
  }, (err) => assert.fail(err));
  // The addon accepts on its own duplicate; Node's server never accepts.
  await new Promise((resolve) => server.close(resolve));
  t.after(() => {
    stop();
    for (const c of accepted) closeDescriptor(c);
  });
  return { port, accepted };
}

/** A Unix socket upstream that records what it receives. */
async function recordingUnixUpstream(t: TestContext): Promise<{ path: string; received: () => string; sockets: Set<net.Socket> }> {
  const path = join(tempDir(t), 'up.sock');
  let received = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('data', (d: Buffer) => {
      received += d.toString();
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { path, received: () => received, sockets };
}

class Recorder implements NativeEnd {
  ends: { errno: number; bytesIn: number; bytesOut: number }[] = [];
  onNativeEnd(errno: number, _side: number, _returned: ClientFd | undefined, bytesIn: number, bytesOut: number): void {
    this.ends.push({ errno, bytesIn, bytesOut });
  }
  onNativeCounts(): void {}
}

test('forward(): an upstream connected within connect() gets the client\'s waiting bytes before the call returns, not a turn of the event loop later', async (t) => {
  const upstream = await recordingUnixUpstream(t);
  const { port, accepted } = await collectingListener(t);
  const client = await connect(t, { host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => client.write('hello', (err) => (err ? reject(err) : resolve())));
  await waitFor('the connection accepted', () => accepted.length === 1);
  const fd = (accepted.pop() ?? -1) as ClientFd;

  const owner = new Recorder();
  // A Unix socket connects synchronously: nothing is left to wait for.
  const id = forwardNative(fd, { path: upstream.path }, -1, 5000, owner);
  assert.equal(typeof id, 'number', `forward failed: ${typeof id === 'number' ? '' : id.error.message}`);
  const counts = new Float64Array(2);
  nativeCounts(id as NativeId, counts);
  assert.equal(counts[0], 5, 'the five waiting bytes were sent to the upstream inside forward()');

  // And the connection goes on as usual: a reply comes back, and both ends close in order.
  await waitFor('the upstream received them', () => upstream.received() === 'hello');
  const [peer] = upstream.sockets;
  assert.ok(peer !== undefined);
  let reply = '';
  client.on('data', (d: Buffer) => {
    reply += d.toString();
  });
  peer.end('world');
  await waitFor('the reply', () => reply === 'world');
  client.end();
  await waitFor('the end report', () => owner.ends.length === 1);
  assert.deepEqual(owner.ends, [{ errno: 0, bytesIn: 5, bytesOut: 5 }]);
});

test('a native listener accepts after the turn\'s other I/O: a reply that is ready goes out before a new connection is taken on', async (t) => {
  const upstream = await recordingUnixUpstream(t);
  const counts = new Float64Array(2);
  const a: { id?: NativeId } = {};
  // What connection A had delivered to its client when connection B was accepted.
  const deliveredAtAccept: number[] = [];
  const { port, accepted } = await collectingListener(t, () => {
    if (a.id === undefined) return;
    nativeCounts(a.id, counts);
    deliveredAtAccept.push(counts[1] ?? -1);
  });

  await connect(t, { host: '127.0.0.1', port }); // A
  await waitFor('A accepted', () => accepted.length === 1);
  const forwarded = forwardNative((accepted.pop() ?? -1) as ClientFd, { path: upstream.path }, -1, 5000, new Recorder());
  assert.equal(typeof forwarded, 'number');
  a.id = forwarded as NativeId;
  await waitFor('A connected upstream', () => upstream.sockets.size === 1);
  const [peer] = upstream.sockets;
  assert.ok(peer !== undefined);

  // Within one turn: B's handshake completes (its connect runs on the next tick), then A's reply is
  // written. Both are ready when the loop next polls, the listener first.
  const b = net.connect({ host: '127.0.0.1', port });
  t.after(() => b.destroy());
  process.nextTick(() => peer.write('x'));
  await waitFor('B accepted', () => deliveredAtAccept.length === 1);
  assert.deepEqual(deliveredAtAccept, [1], 'A\'s reply was forwarded in the same turn, before B was accepted');
});

test('a native listener takes a burst of waiting connections at most 16 per turn, and every one of them', async (t) => {
  // One onAccept batch is delivered synchronously: a microtask closes the group it belongs to.
  const groups: number[] = [];
  let open = false;
  const { port, accepted } = await collectingListener(t, () => {
    if (!open) {
      open = true;
      groups.push(0);
      queueMicrotask(() => {
        open = false;
      });
    }
    groups[groups.length - 1] = (groups.at(-1) ?? 0) + 1;
  });
  // The 40 handshakes complete in the kernel (the backlog) within this turn, before the listener runs.
  await Promise.all(Array.from({ length: 40 }, () => connect(t, { host: '127.0.0.1', port })));
  await waitFor('all 40 accepted', () => accepted.length === 40);
  assert.equal(groups.reduce((x, y) => x + y, 0), 40);
  assert.ok(Math.max(...groups) <= 16, `accepted per turn: ${groups.join(', ')}`);
});
