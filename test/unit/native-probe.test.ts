// The daemon's readiness probes over the native addon (src/probes/native.ts): a probe of a local
// address is answered inside connect(), and anything that needs the node:net way still gets it.

import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { nativeNetworkProbes } from '../../src/probes/native.ts';
import { probeNative } from '../../src/proxy/native.ts';
import { closedPort, startUpstream, tempDir, waitFor } from './proxy-support.ts';

/** A loopback app (proxy-support's upstream) that counts the connections it accepted. */
async function countingApp(t: TestContext, onConnection: (s: net.Socket) => void = (s) => { s.resume(); }): Promise<{ port: number; accepted: () => number }> {
  let accepted = 0;
  const { endpoint } = await startUpstream(t, (s) => {
    accepted++;
    onConnection(s);
  });
  return { port: endpoint.kind === 'tcp' ? endpoint.port : 0, accepted: () => accepted };
}

test('probeNative answers within the call for loopback and Unix peers: connected, or the refusal', async (t) => {
  const tcp = await countingApp(t);
  assert.equal(probeNative({ host: '127.0.0.1', port: tcp.port }), 'connected');
  await waitFor('the app saw the probe connect (and then close)', () => tcp.accepted() === 1);

  const closed = await closedPort();
  const refused = probeNative({ host: '127.0.0.1', port: closed });
  assert.ok(refused instanceof Error && refused.code === 'ECONNREFUSED', String(refused));

  const path = join(tempDir(t), 'app.sock');
  let unixAccepted = 0;
  const unix = net.createServer((s) => { unixAccepted++; s.resume(); });
  await new Promise<void>((resolve) => unix.listen(path, resolve));
  t.after(() => { unix.close(); });
  assert.equal(probeNative({ path }), 'connected');
  await waitFor('the Unix app saw the probe', () => unixAccepted === 1);
  const missing = probeNative({ path: join(tempDir(t), 'nobody.sock') });
  assert.ok(missing instanceof Error && missing.code === 'ENOENT', String(missing));
});

test('the daemon\'s TCP probe: ready or refused with the address, as the node:net probe says it', async (t) => {
  const { port } = await countingApp(t);
  const signal = new AbortController().signal;
  assert.deepEqual(await nativeNetworkProbes.tcp({ kind: 'tcp', host: '127.0.0.1', port }, false, signal), { ok: true });
  const closed = await closedPort();
  assert.deepEqual(await nativeNetworkProbes.tcp({ kind: 'tcp', host: '127.0.0.1', port: closed }, false, signal),
    { ok: false, detail: `connect ECONNREFUSED 127.0.0.1:${closed}` });
  // A host name is not the addon's to resolve: the node:net probe takes it.
  assert.deepEqual(await nativeNetworkProbes.tcp({ kind: 'tcp', host: 'localhost', port }, false, signal), { ok: true });
});

test('a probe that must see the connection stay up (settle) is not answered by connect() alone', async (t) => {
  // Docker's userland proxy: accepts, then closes at once because nothing listens behind it.
  const proxy = await countingApp(t, (s) => { s.destroy(); });
  const outcome = await nativeNetworkProbes.tcp({ kind: 'tcp', host: '127.0.0.1', port: proxy.port }, true, new AbortController().signal);
  assert.equal(outcome.ok, false, 'accepted then closed is not ready');
  assert.equal(proxy.accepted(), 1);
});

test('a refused quick probe resolves on a later turn (immediate retries take turns with other I/O); a connected one at once', async (t) => {
  const { port } = await countingApp(t);
  const closed = await closedPort();
  const signal = new AbortController().signal;
  const settledWithinTurn = async (target: number): Promise<boolean> => {
    let settled = false;
    const probe = nativeNetworkProbes.tcp({ kind: 'tcp', host: '127.0.0.1', port: target }, false, signal).then(() => { settled = true; });
    for (let i = 0; i < 10; i++) await Promise.resolve(); // microtasks only: still the same turn
    const within = settled;
    await probe;
    return within;
  };
  assert.equal(await settledWithinTurn(closed), false, 'the refusal waits for the next turn');
  assert.equal(await settledWithinTurn(port), true, 'a connected probe does not wait');
});
