// Native connection ids (src/native/conn-js.c): exact numbers, never given out twice, even for a
// slot reused until its generation reaches the point where gen·2^24+slot would no longer fit a
// double exactly. The addon's test hook puts a slot just short of that point.

import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { ClientFd } from '../../src/proxy/handoff.ts';
import { abortNative, ECANCELED, forwardNative, nativeCounts, nearIdWrapForTest, type NativeEnd, type NativeId } from '../../src/proxy/native.ts';
import { connect, nativeLoopbackListener, tempDir, waitFor } from './proxy-support.ts';

const SLOT_SPAN = 2 ** 24;

interface Bench {
  /** A natively forwarded connection: client → native listener → forward() → the Unix upstream. */
  open(t: TestContext): Promise<{ id: NativeId; client: net.Socket; ended: () => number | undefined; received: () => string }>;
}

async function bench(t: TestContext): Promise<Bench> {
  const path = join(tempDir(t), 'up.sock');
  const received = new Map<number, string>();
  let upstreams = 0;
  const upstream = net.createServer((s) => {
    const n = upstreams++;
    received.set(n, '');
    s.on('data', (d: Buffer) => received.set(n, (received.get(n) ?? '') + d.toString()));
    s.on('error', () => undefined);
    t.after(() => s.destroy());
  });
  await new Promise<void>((resolve) => upstream.listen(path, resolve));
  t.after(() => upstream.close());

  const { port, accepted } = await nativeLoopbackListener(t);

  return {
    async open(tc) {
      const client = await connect(tc, { host: '127.0.0.1', port });
      await waitFor('the connection accepted', () => accepted.length === 1);
      const fd = (accepted.pop() ?? -1) as ClientFd;
      let end: number | undefined;
      const owner: NativeEnd = { onNativeEnd: (errno) => { end = errno; }, onNativeCounts: () => undefined };
      const n = upstreams;
      const id = forwardNative(fd, { path }, -1, 5000, owner);
      assert.equal(typeof id, 'number', `forward failed: ${typeof id === 'number' ? '' : id.error.message}`);
      return { id: id as NativeId, client, ended: () => end, received: () => received.get(n) ?? '' };
    },
  };
}

test('ids stay exact up to the last generation of a slot, which is then retired: a stale id never reaches a newer connection', async (t) => {
  const b = await bench(t);
  const slot = nearIdWrapForTest(2);
  const counts = new Float64Array(2);
  const seen: NativeId[] = [];

  // The slot's second-to-last generation.
  const a = await b.open(t);
  assert.ok(Number.isSafeInteger(a.id), `id ${a.id} is an exact integer`);
  assert.equal(a.id % SLOT_SPAN, slot, 'the connection took the prepared slot');
  a.client.write('a');
  await waitFor('a\'s byte through', () => a.received() === 'a');
  nativeCounts(a.id, counts);
  assert.equal(counts[0], 1, 'the id finds its connection');
  seen.push(a.id);
  abortNative(a.id);
  await waitFor('a ended', () => a.ended() !== undefined);
  assert.equal(a.ended(), ECANCELED);

  // Its last generation: the same slot, a new id; the stale one reaches nothing.
  const b2 = await b.open(t);
  assert.ok(Number.isSafeInteger(b2.id), `id ${b2.id} is an exact integer`);
  assert.equal(b2.id % SLOT_SPAN, slot, 'the freed slot is taken again');
  assert.ok(!seen.includes(b2.id), 'a new id');
  abortNative(a.id);
  counts.fill(-1);
  nativeCounts(a.id, counts);
  assert.deepEqual([...counts], [-1, -1], 'a stale id reads no counts');
  b2.client.write('b');
  await waitFor('b\'s byte through (the stale abort left it alone)', () => b2.received() === 'b');
  assert.equal(b2.ended(), undefined);
  nativeCounts(b2.id, counts);
  assert.equal(counts[0], 1, 'the new id finds its connection');
  seen.push(b2.id);
  abortNative(b2.id);
  await waitFor('b ended', () => b2.ended() !== undefined);

  // Past the last exact generation the slot is retired, not wrapped: new ids, new slots.
  for (let i = 0; i < 3; i++) {
    const c = await b.open(t);
    assert.ok(Number.isSafeInteger(c.id), `id ${c.id} is an exact integer`);
    assert.notEqual(c.id % SLOT_SPAN, slot, 'the retired slot is not used again');
    assert.ok(!seen.includes(c.id), `id ${c.id} was never given out before`);
    for (const stale of seen) abortNative(stale);
    c.client.write('c');
    await waitFor('c\'s byte through (stale aborts left it alone)', () => c.received() === 'c');
    assert.equal(c.ended(), undefined);
    seen.push(c.id);
    abortNative(c.id);
    await waitFor('c ended', () => c.ended() !== undefined);
  }
});
