// The limits of the proxy that a client (or a stuck app) could otherwise exhaust: how long one
// connection may be held (holdTimeout), how many early bytes held connections keep in memory
// (64 KiB each, maxHeldBytes all together), and how long a connection may sit with its client
// half-closed while the upstream sends nothing (halfCloseTimeout). Real sockets on loopback.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type net from 'node:net';
import { describe, it } from 'node:test';
import type { ConnectionEnd } from '../../src/proxy/pipe/connection.ts';
import { connect, delay, FakeBackend, howItEnds, nativeDataPath, startFrontend, startUpstream, waitFor } from './proxy-support.ts';

const KiB = 1024;

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** `p`, or 'timeout' after ms. */
function within<T>(ms: number, p: Promise<T>): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

describe('holdTimeout', () => {
  it('closes a connection held longer than holdTimeout and counts it as refused (hold_timeout)', async (t) => {
    const { endpoint } = await startUpstream(t, (s) => s.end());
    const backend = new FakeBackend(endpoint); // never ready
    const { frontend, port } = await startFrontend(t, backend, { holdTimeoutMs: 300 });
    const client = await connect(t, { port });
    await waitFor('the connection is held', () => frontend.held === 1);
    assert.notEqual(await within(10_000, howItEnds(client)), 'timeout', 'the held client is closed');
    await waitFor('the held connection is gone', () => frontend.held === 0);
    assert.deepEqual(backend.refusals, ['hold_timeout']);
    assert.equal(backend.waiting, 0, 'its acquire was given up');
  });
});

describe('held early bytes', () => {
  it('keep at most maxHeldBytes (plus one read) for all held connections together, and every client is still served intact', async (t) => {
    const received = new Map<string, Buffer[]>();
    const { endpoint } = await startUpstream(t, (s) => {
      const chunks: Buffer[] = [];
      s.on('data', (c: Buffer) => chunks.push(c));
      s.on('end', () => {
        const body = Buffer.concat(chunks);
        received.set(body.subarray(0, 8).toString(), chunks);
        s.end(sha(body));
      });
    });
    const backend = new FakeBackend(endpoint);
    const cap = 64 * KiB;
    const { frontend, port } = await startFrontend(t, backend, { maxHeldBytes: cap });
    const clients: { socket: net.Socket; body: Buffer; reply: Promise<Buffer> }[] = [];
    for (let i = 0; i < 5; i++) {
      const socket = await connect(t, { port });
      const body = Buffer.alloc(2 * 1024 * KiB, i + 1);
      body.write(`client-${i}`);
      const reply = new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        socket.on('data', (c: Buffer) => chunks.push(c));
        socket.once('end', () => resolve(Buffer.concat(chunks)));
        socket.once('error', reject);
      });
      socket.end(body); // megabytes sent while held: most of it waits in the kernel
      clients.push({ socket, body, reply });
    }
    await waitFor('all five held', () => frontend.held === 5);
    await waitFor('the held bytes reach the cap', () => frontend.heldBytes >= cap);
    await delay(300);
    assert.ok(frontend.heldBytes <= cap + 64 * KiB, `held ${frontend.heldBytes} bytes in memory, cap ${cap} (+ one 64 KiB read)`);
    backend.becomeReady();
    for (const c of clients) assert.equal((await c.reply).toString(), sha(c.body), 'the upstream got every byte, in order');
    assert.equal(frontend.heldBytes, 0);
  });
});

describe('halfCloseTimeout', () => {
  /** An app that accepts and then neither reads nor answers (its socket never read). */
  async function silentApp(t: Parameters<typeof startUpstream>[0]): Promise<Awaited<ReturnType<typeof startUpstream>>> {
    return startUpstream(t, (s) => s.pause());
  }

  for (const held of [false, true]) {
    it(`resets a connection whose client half-closed when the upstream sends nothing for halfCloseTimeout (${held ? 'held first' : 'forwarded at once'}), counting it apart meanwhile`, async (t) => {
      const { endpoint, sockets } = await silentApp(t);
      const backend = new FakeBackend(endpoint);
      backend.ready = !held;
      const { frontend, port } = await startFrontend(t, backend, { halfCloseTimeoutMs: 1_000 });
      const client = await connect(t, { port });
      const ending = howItEnds(client);
      client.end('GET / HTTP/1.0\r\n\r\n');
      if (held) {
        await waitFor('held', () => frontend.held === 1);
        backend.becomeReady();
      }
      await waitFor('counted as half-closed', () => frontend.halfClosed === 1 && frontend.open === 1);
      assert.equal(sockets.size, 1, 'the app accepted');
      assert.match(await within(10_000, ending), /ECONNRESET|close|end/, 'the client sees the connection end');
      await waitFor('closed', () => frontend.open === 0, 10_000);
      assert.equal(frontend.halfClosed, 0);
    });
  }

  it('resets a connection handed to the splice pump whose client half-closes later while the upstream stays silent', { skip: nativeDataPath() === undefined ? 'only the native data path splices' : false }, async (t) => {
    let received = 0;
    const { endpoint } = await startUpstream(t, (s) => s.on('data', (c: Buffer) => { received += c.length; })); // reads, never answers
    const backend = new FakeBackend(endpoint); // held first: the JavaScript connection, then the pump
    const ends: ConnectionEnd[] = [];
    const { frontend, port } = await startFrontend(t, backend, {
      halfCloseTimeoutMs: 1_000,
      native: { spliceAfterBytes: 64 * KiB },
      onConnection: (e) => { if (e.change === 'close') ends.push(e.end); },
    });
    const client = await connect(t, { port });
    const ending = howItEnds(client);
    await waitFor('held', () => frontend.held === 1);
    backend.becomeReady();
    const bulk = Buffer.alloc(4 * 1024 * KiB, 7);
    client.write(bulk);
    await waitFor('the upstream got the bulk', () => received === bulk.length, 10_000);
    client.end();
    await waitFor('counted as half-closed', () => frontend.halfClosed === 1, 10_000);
    assert.match(await within(10_000, ending), /ECONNRESET|close|end/, 'the client sees the connection end');
    await waitFor('closed', () => frontend.open === 0, 10_000);
    assert.deepEqual(ends.map((e) => [e.reason, e.spliced]), [['half_closed_timeout', true]]);
    assert.equal(frontend.halfClosed, 0);
  });

  it('leaves a half-closed connection alone while its client is slow to take an answer the upstream sent', async (t) => {
    const answer = Buffer.alloc(32 * 1024 * KiB, 3);
    const { endpoint } = await startUpstream(t, (s) => {
      s.resume();
      s.once('end', () => s.end(answer));
    });
    const backend = new FakeBackend(endpoint);
    backend.ready = true;
    // The timeout leaves the upstream (this busy process) time for its first bytes; then the client stalls.
    const { frontend, port } = await startFrontend(t, backend, { halfCloseTimeoutMs: 1_500 });
    const client = await connect(t, { port });
    client.pause();
    client.end('request');
    await delay(6_000); // four timeouts with the client not reading
    assert.equal(frontend.open, 1, 'not reset: the upstream answered, the client is slow');
    let got = 0;
    client.on('data', (c: Buffer) => { got += c.length; });
    const how = await within(20_000, howItEnds(client));
    assert.equal(how, 'end');
    assert.equal(got, answer.length, 'the whole answer arrived');
  });

  it('leaves a half-closed connection alone while the upstream keeps sending', async (t) => {
    const { endpoint } = await startUpstream(t, (s) => {
      let n = 0;
      const timer = setInterval(() => {
        if (++n > 6) {
          clearInterval(timer);
          s.end('done');
        } else {
          s.write('.');
        }
      }, 300);
      s.on('close', () => clearInterval(timer));
    });
    const backend = new FakeBackend(endpoint);
    backend.ready = true;
    const { frontend, port } = await startFrontend(t, backend, { halfCloseTimeoutMs: 500 });
    const client = await connect(t, { port });
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    const ended = new Promise<void>((resolve) => client.once('end', resolve));
    client.end('request');
    await ended;
    assert.equal(Buffer.concat(chunks).toString(), '......done', 'the slow answer went through whole');
    await waitFor('closed', () => frontend.open === 0);
    assert.equal(frontend.halfClosed, 0);
  });
});
