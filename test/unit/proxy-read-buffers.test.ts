// Accepted sockets reading into the proxy's own buffer: supported on this Node (so an upgrade that
// removes the mechanism is noticed here, not as a slowdown), bytes intact, pausing by callback.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { adoptReadBuffer, FIRST_READ, READ_BUFFER_BYTES, ReadSide } from '../../src/proxy/pipe/read-buffers.ts';
import { connect } from './proxy-support.ts';

async function acceptedPair(t: import('node:test').TestContext): Promise<{ client: net.Socket; accepted: net.Socket }> {
  const server = net.createServer({ pauseOnConnect: true });
  t.after(() => server.close());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const acceptedP = new Promise<net.Socket>((r) => server.once('connection', r));
  const client = await connect(t, { host: '127.0.0.1', port: (server.address() as net.AddressInfo).port });
  const accepted = await acceptedP;
  t.after(() => accepted.destroy());
  return { client, accepted };
}

test('an accepted socket reads into our buffers: the first two into the shared one (copied out), the rest into its own', async (t) => {
  const { client, accepted } = await acceptedPair(t);
  const side = new ReadSide();
  assert.equal(side.next(), FIRST_READ, 'no buffer of its own before the first read');
  assert.equal(FIRST_READ.length, READ_BUFFER_BYTES);
  const got: Uint8Array[] = [];
  const seen: Uint8Array[] = [];
  let dataEvents = 0;
  accepted.on('data', () => { dataEvents++; });
  const adopted = adoptReadBuffer(accepted, side, (n, buf) => {
    seen.push(buf);
    const bytes = side.take(n, buf);
    if (buf === FIRST_READ) assert.notEqual(bytes.buffer, FIRST_READ.buffer, 'bytes read into the shared buffer are copied out');
    got.push(Buffer.from(bytes)); // a view of the own buffer is overwritten by the next read
    return true;
  });
  assert.equal(adopted, true, 'this Node supports reading accepted sockets into a user buffer');
  const ended = new Promise((r) => accepted.once('end', r));
  accepted.resume();
  const payload = Buffer.alloc(5 * READ_BUFFER_BYTES + 123);
  for (let i = 0; i < payload.length; i++) payload[i] = (i * 7) % 251;
  client.end(payload);
  await ended;
  assert.ok(Buffer.concat(got).equals(payload));
  assert.equal(dataEvents, 0);
  assert.equal(seen[0], FIRST_READ);
  assert.equal(seen[1], FIRST_READ);
  assert.ok(seen.length > 2 && seen.slice(2).every((b) => b !== FIRST_READ && b === seen[2]), 'later reads reuse one buffer of its own');
  assert.equal(adoptReadBuffer(accepted, side, () => true), false, 'adopting twice is refused');
});

test('returning false pauses reading until resume()', async (t) => {
  const { client, accepted } = await acceptedPair(t);
  let reads = 0;
  let total = 0;
  adoptReadBuffer(accepted, new ReadSide(), (n) => {
    reads++;
    total += n;
    return false;
  });
  accepted.resume();
  client.write(Buffer.alloc(1000));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(reads, 1);
  client.write(Buffer.alloc(1000));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(reads, 1, 'paused: the second write is not read');
  accepted.resume();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(total, 2000);
});
