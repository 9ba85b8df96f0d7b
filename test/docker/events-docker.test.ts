// The Docker events stream dropping (an engine restart, a proxy in between timing out): portwake
// reconnects and re-inspects, so a container stopped while it was not listening is still noticed.
// A relay in front of the real engine's socket plays the outage.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { connect, countingProvider, eventually, freePort, httpGet, startDaemon, whenClosed } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';

/** A unix-socket relay to the engine that can be cut (every connection reset) and held down. */
async function engineRelay(t: TestContext, engine: Engine): Promise<{ host: string; cut(): void; up(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-relay-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'docker.sock');
  const open = new Set<net.Socket>();
  let down = false;
  const server = net.createServer((client) => {
    if (down) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ path: engine.socketPath });
    open.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((r) => server.listen(path, r));
  t.after(() => {
    for (const s of open) s.destroy();
    server.close();
  });
  return {
    host: `unix://${path}`,
    cut: () => {
      down = true;
      for (const s of open) s.destroy();
    },
    up: () => { down = false; },
  };
}

describe('events stream outage against a real Docker engine', { timeout: 120_000 }, () => {
  let engine: Engine;
  let busybox: string;
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  it('reconnects after the stream drops and notices a container stopped meanwhile', async (t) => {
    const relay = await engineRelay(t, engine);
    const c = await createContainer(engine, { image: busybox, cmd: ['/bin/sh', '-c', 'exec httpd -f -p 80 -h /www'], expose: [80], nameHint: 'outage', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const provider = countingProvider(engine, relay.host);
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, `services:\n  outage:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`, { provider });
    // A silent connection through portwake: only portwake can tell it that its container is gone.
    const silent = await connect({ host: '127.0.0.1', port });
    t.after(() => silent.destroy());
    const closed = whenClosed(silent);
    await eventually('ready', () => daemon.status()[0]?.state === 'ready');
    await new Promise((r) => setTimeout(r, 300)); // let the events stream subscribe

    relay.cut();
    // Stopped while portwake cannot hear about it: the die event is lost with the stream.
    await engine.docker.getContainer(c.name).stop({ t: 0 });
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(daemon.status()[0]?.state, 'ready', 'nothing could tell portwake yet');

    relay.up();
    await eventually('portwake re-inspected after reconnecting and saw the container stopped', () => daemon.status()[0]?.state === 'stopped', 15_000);
    await closed;
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'the next connection starts it again');
    assert.equal(provider.starts, 2);
  });
});
