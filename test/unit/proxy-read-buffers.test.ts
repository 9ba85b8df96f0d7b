// Accepted sockets reading into the proxy's own buffer: supported on this Node (so an upgrade that
// removes the mechanism is noticed here, not as a slowdown), bytes intact, pausing by callback.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { adoptReadBuffer, READ_BUFFER_BYTES, takeReadBuffer } from '../../src/proxy/read-buffers.ts';
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

test('an accepted socket reads into our buffer: every byte arrives through the callback, none as data events', async (t) => {
  const { client, accepted } = await acceptedPair(t);
  const buffer = takeReadBuffer();
  assert.equal(buffer.length, READ_BUFFER_BYTES);
  const got: Buffer[] = [];
  let dataEvents = 0;
  accepted.on('data', () => { dataEvents++; });
  const adopted = adoptReadBuffer(accepted, buffer, (n, buf) => {
    assert.equal(buf, buffer, 'reads land in the buffer we gave');
    got.push(Buffer.from(buf.subarray(0, n)));
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
  assert.equal(adoptReadBuffer(accepted, buffer, () => true), false, 'adopting twice is refused');
});

test('returning false pauses reading until resume()', async (t) => {
  const { client, accepted } = await acceptedPair(t);
  let reads = 0;
  let total = 0;
  adoptReadBuffer(accepted, takeReadBuffer(), (n) => {
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
