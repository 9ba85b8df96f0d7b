// Every descriptor and lease the native data path touches has one owner on every path: a batch of
// accepted descriptors whose JavaScript hand-over throws, and a native forward() that fails.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { systemClock } from '../../src/core/clock.ts';
import type { ConnectionEnd } from '../../src/proxy/pipe/connection.ts';
import { closeDescriptor, failNextForwardForTest } from '../../src/proxy/native.ts';
import { Handoff, type ClientFd } from '../../src/proxy/handoff.ts';
import { NativeConnection } from '../../src/proxy/pipe/native-connection.ts';
import { connect, fdCount, FakeLease, howItEnds, nativeLoopbackListener, tempDir, waitFor } from './proxy-support.ts';

const CHILD = fileURLToPath(new URL('../support/native-throwing-accept.ts', import.meta.url));
const HOLD_CHILD = fileURLToPath(new URL('../support/frontend-throwing-hold.ts', import.meta.url));

interface ChildReport { stuck?: string; clients: number; handed: number; uncaught: string[]; closedByServer: number; leaked: number; probe: string }

function runChild<R = ChildReport>(t: TestContext, script = CHILD): Promise<R> {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { child.kill('SIGKILL'); });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the child did not finish in 60 s; stderr: ${err}`)), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out) as R);
      } catch {
        reject(new Error(`the child exited (${code}) without a report; stdout: ${out}; stderr: ${err}`));
      }
    });
  });
}

test('a throw while a batch of accepted descriptors is handed over closes the rest and is raised as an uncaught exception', async (t) => {
  const r = await runChild(t);
  assert.equal(r.stuck, undefined, `the child got stuck ${r.stuck ?? ''} (uncaught: ${JSON.stringify(r.uncaught)})`);
  assert.ok(r.handed < r.clients, `the throw came with descriptors of the batch still to hand over (handed ${r.handed} of ${r.clients})`);
  assert.deepEqual(r.uncaught, ['injected: onAccept threw for the 2nd descriptor'], 'the throw reached process "uncaughtException", once');
  assert.equal(r.closedByServer, r.clients, 'every client saw its connection closed, those never handed over included');
  // At most 0: on a busy machine the listener's own descriptor may close only after the baseline.
  assert.ok(r.leaked <= 0, `no descriptor is left open (${r.leaked} more than before)`);
  assert.equal(r.probe, 'ok', 'the exception does not resurface from the next call into the addon');
});

test('a throw while the frontend gives a batch of held descriptors their sockets closes the rest, then is raised', async (t) => {
  const r = await runChild<{ stuck?: boolean; clients: number; uncaught: string[]; closedAfterTheThrow: number; leaked: number }>(t, HOLD_CHILD);
  assert.equal(r.stuck, undefined, `the child got stuck (uncaught: ${JSON.stringify(r.uncaught)})`);
  assert.deepEqual(r.uncaught, ['injected: setHeld threw for the 2nd held connection'], 'the throw reached process "uncaughtException", once');
  assert.equal(r.closedAfterTheThrow, r.clients - 1, 'the connection in hand and the rest of the batch were closed, not left without an owner');
  assert.ok(r.leaked <= 0, `no descriptor is left open (${r.leaked} more than before)`);
});

test('a native forward() that fails releases the lease and closes the client, once', async (t) => {
  const path = join(tempDir(t), 'up.sock');
  const upstream = net.createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((resolve) => upstream.listen(path, resolve));
  t.after(() => upstream.close());
  const { port, accepted } = await nativeLoopbackListener(t);
  await new Promise((resolve) => setTimeout(resolve, 20)); // libuv closes the server's descriptor after 'close'
  const before = fdCount();

  const client = await connect(t, { host: '127.0.0.1', port });
  const ending = howItEnds(client);
  await waitFor('the connection accepted', () => accepted.length === 1);
  const fd = accepted.pop() ?? -1;
  const lease = new FakeLease({ kind: 'unix', path });
  const ends: ConnectionEnd[] = [];
  const unconnected: unknown[] = [];
  failNextForwardForTest();
  let connection: NativeConnection | undefined;
  try {
    connection = new NativeConnection({
      client: Handoff.toNative(fd as ClientFd), lease, clock: systemClock, connectTimeoutMs: 5000, spliceAfterBytes: -1,
      onClosed: (_c, end) => ends.push(end),
      onUnconnected: (u) => unconnected.push(u),
    }, { path });
  } catch (err) {
    closeDescriptor(fd);
    assert.fail(`the constructor threw (the lease and the client had no owner): ${String(err)}`);
  }
  assert.ok(connection !== undefined);
  await waitFor('the end reported', () => ends.length === 1);
  assert.equal(ends[0]?.reason, 'upstream_unreachable');
  assert.match(String(ends[0]?.error?.message), /forward: Cannot allocate memory/);
  assert.equal(ends[0]?.handedBack, false, 'not handed back: the upstream is not at fault');
  assert.deepEqual(unconnected, []);
  assert.equal(lease.releases, 1, 'the lease is released exactly once');
  assert.equal(await ending, 'end', 'the client is closed in order');
  connection.close('shutdown');
  assert.equal(lease.releases, 1, 'close() after the end changes nothing');
  client.destroy();
  await waitFor('every descriptor closed', () => fdCount() === before);
});
