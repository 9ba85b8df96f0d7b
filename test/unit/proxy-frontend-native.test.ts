// Every frontend test again on the native data path, as the daemon runs when the addon is built:
// TCP listeners accept in native code, and connections to a ready service are forwarded there
// (src/native/); held connections are wrapped into JavaScript sockets. Then what only the native
// path does.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, delay, echo, FakeBackend, howItEnds, readAll, startFrontend, startUpstream, useNativeDataPath, waitFor } from './proxy-support.ts';

useNativeDataPath();
await import('./proxy-frontend.test.ts');

test('native: a connection that must wait asks for the start before its socket is set up, and is served all the same', async (t) => {
  const upstream = await startUpstream(t, echo);
  const backend = new FakeBackend(upstream.endpoint);
  const { frontend, port } = await startFrontend(t, backend);
  const client = await connect(t, { host: '127.0.0.1', port });
  client.write('early bytes, ');
  await waitFor('held', () => backend.held === 1 && backend.waiting === 1);
  assert.deepEqual(backend.prepared, [0], 'prepare() came first, while no connection was held yet');
  assert.equal(frontend.held, 1);
  const reply = readAll(client);
  backend.becomeReady();
  client.end('and the rest');
  assert.equal((await reply).toString(), 'early bytes, and the rest');
});

for (const held of ['close', 'serve'] as const) {
  test(`native: a connection accepted just as close({ held: '${held}' }) begins is ${held === 'close' ? 'closed' : 'still served'}, and close() resolves`, async (t) => {
    const upstream = await startUpstream(t, echo);
    const backend = new FakeBackend(upstream.endpoint);
    const { frontend, port } = await startFrontend(t, backend);
    let closing: Promise<void> | undefined;
    // close() begins in the very turn the connection is accepted, before its socket is made.
    backend.onPrepare = () => { closing ??= frontend.close({ graceMs: 10_000, held }); };
    const client = await connect(t, { host: '127.0.0.1', port });
    const ended = howItEnds(client);
    await waitFor('close() began', () => closing !== undefined);
    if (held === 'close') {
      assert.match(await ended, /^(end|ECONNRESET)$/);
      assert.deepEqual(backend.refusals, ['shutting_down']);
    } else {
      await waitFor('held', () => backend.waiting === 1);
      const reply = readAll(client);
      backend.becomeReady();
      client.end('served');
      assert.equal((await reply).toString(), 'served');
    }
    await Promise.race([closing, delay(5_000).then(() => assert.fail('close() hangs'))]);
    assert.equal(frontend.held, 0);
  });
}
