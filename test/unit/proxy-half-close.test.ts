// The half-close check of the JavaScript copy step (copy.ts), fired by hand at the moments that
// matter rather than on a timer: a check that falls due between the moment a slow client takes the
// bytes it was sent (the copy resumes reading the upstream) and the upstream's next read must not
// take the upstream for silent. Real sockets on loopback; only the check's time is the test's.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import type { Clock } from '../../src/core/clock.ts';
import { Handoff } from '../../src/proxy/handoff.ts';
import { Connection, type ConnectionEnd } from '../../src/proxy/pipe/connection.ts';
import { connect, FakeLease, readAll, startUpstream, waitFor } from './proxy-support.ts';

/** A clock whose timers run only when fire() says so, synchronously, inside whatever callback calls it. */
class StepClock implements Clock {
  #timers: { fn: () => void; cancelled: boolean }[] = [];
  now(): number {
    return 0;
  }
  setTimer(_ms: number, fn: () => void): { cancel(): void } {
    const timer = { fn, cancelled: false };
    this.#timers.push(timer);
    return { cancel: () => { timer.cancelled = true; } };
  }
  /** Runs every pending timer once (timers they set wait for the next fire()); returns how many ran. */
  fire(): number {
    const due = this.#timers.filter((x) => !x.cancelled);
    this.#timers = [];
    for (const x of due) x.fn();
    return due.length;
  }
}

test('a half-close check that falls due right after a slow client took its bytes, before the upstream is read again, leaves the connection alone (JavaScript path)', { timeout: 60_000 }, async (t) => {
  // Big enough that the kernel's buffers fill and a write of the copy's stays queued.
  const answer = Buffer.alloc(32 * 1024 * 1024, 5);
  const upstream = await startUpstream(t, (s) => {
    s.resume();
    s.once('end', () => s.end(answer));
  });
  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const client = await connect(t, { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  client.pause();
  client.end('request');
  const socket = await accepted;
  t.after(() => socket.destroy());

  // Right after the copy's callback for a write to the client (it resumes the upstream once the
  // last queued byte is out), the test can run the half-close check: the moment the bug needs.
  let afterClientWrite: (() => void) | undefined;
  const write = socket.write.bind(socket) as (chunk: Uint8Array, cb: (err?: Error | null) => void) => boolean;
  socket.write = ((chunk: Uint8Array, cb: (err?: Error | null) => void) => write(chunk, (err) => {
    cb(err);
    afterClientWrite?.();
  })) as typeof socket.write;

  const clock = new StepClock();
  const lease = new FakeLease(upstream.endpoint);
  let halfClosed = 0;
  let end: ConnectionEnd | undefined;
  const ended = (): ConnectionEnd | undefined => end; // read through a call: an assertion narrows `end` for good
  new Connection({
    client: Handoff.toConnection(socket),
    lease,
    clock,
    connectTimeoutMs: 5_000,
    halfClose: { timeoutMs: 1_000, count: (delta) => { halfClosed += delta; } },
    onClosed: (_c, e) => { end = e; },
  });

  // The client does not read: the copy's write to it stays queued and the upstream is not read.
  await waitFor('the answer is held up by the client', () => halfClosed === 1 && socket.writableLength > 0 && lease.bytesOut > 0, 20_000);
  assert.equal(clock.fire(), 1, 'a check while held up');
  assert.equal(ended(), undefined, 'bytes waiting for the client are an answer');

  let checkedInTheGap = false;
  afterClientWrite = () => {
    if (socket.writableLength > 0) return;
    afterClientWrite = undefined;
    // The copy has just resumed the upstream; its next read comes on the next poll of the loop.
    checkedInTheGap = clock.fire() === 1;
  };
  const reply = readAll(client);
  client.resume();
  assert.equal((await reply).length, answer.length, 'the whole answer arrived, then an orderly end');
  assert.ok(checkedInTheGap, 'the check ran between the client write and the next upstream read');
  await waitFor('the connection closed', () => ended() !== undefined);
  assert.equal(ended()?.reason, 'done');
  assert.equal(halfClosed, 0);
});
