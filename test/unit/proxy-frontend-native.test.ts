// Every frontend test again on the native data path, as the daemon runs when the addon is built:
// TCP listeners accept in native code, and connections to a ready service are forwarded there
// (src/native/); held connections are wrapped into JavaScript sockets. Then what only the native
// path does.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connect, echo, FakeBackend, readAll, startFrontend, startUpstream, useNativeDataPath, waitFor } from './proxy-support.ts';

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
