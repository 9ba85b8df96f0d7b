// portwake end to end against a real Podman (the Docker provider on `podman system service`): cold
// start, the published-port trap, idle stop, a stop behind portwake's back, and the engine's API
// socket going away and coming back (its own podman service, killed and restarted; the containers
// live on under conmon).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { connect, countingProvider, eventually, freePort, httpdCmd, httpGet, isRunning, startDaemon, whenClosed } from '../support/daemon-harness.ts';
import type { Engine } from '../support/engine.ts';
import { createPodmanContainer, ensurePodmanImage, getPodman, startPodmanService } from '../support/podman.ts';

let engine: Engine;
let busybox: string;

const running = (name: string): Promise<boolean> => isRunning(engine, name);

/** A podman service of this test's own on its own socket (same storage), killed when the test ends. */
async function ownPodmanService(t: TestContext): Promise<{ host: string; kill(): void; restart(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-podman-svc-'));
  const socket = join(dir, 'podman.sock');
  let pid: number | undefined = (await startPodmanService(socket, join(dir, 'podman.log'))).pid;
  const kill = (): void => {
    if (pid === undefined) return;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    pid = undefined;
    rmSync(socket, { force: true });
  };
  t.after(() => {
    kill();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    host: `unix://${socket}`,
    kill,
    restart: async () => { pid = (await startPodmanService(socket, join(dir, 'podman.log'))).pid; },
  };
}

describe('portwake against a real Podman', { timeout: 180_000 }, () => {
  before(async () => {
    engine = await getPodman();
    busybox = await ensurePodmanImage('busybox');
  });

  it('starts nothing until needed, then answers the first request from the stopped container', async (t) => {
    const c = await createPodmanContainer(engine, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'pod-cold', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    const { provider, events } = await startDaemon(t, engine, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await running(c.name), false, 'portwake run starts no container');
    const res = await httpGet({ host: '127.0.0.1', port });
    assert.equal(res.status, 200);
    assert.match(res.body.toString(), /^hello-from-/);
    assert.equal(await running(c.name), true);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    assert.equal(provider.starts, 1);
    assert.equal(events.filter((e) => e.type === 'activated').length, 1);
  });

  it('is not fooled by a published port that accepts before the app listens (upstream: the published port, and the default)', async (t) => {
    for (const useUpstream of [true, false]) {
      const hostPort = await freePort();
      const c = await createPodmanContainer(engine, { image: busybox, cmd: httpdCmd({ delayS: 2 }), publish: [{ containerPort: 80, hostPort }], nameHint: 'pod-late', stopSignal: 'SIGKILL' });
      t.after(() => c.remove());
      const port = await freePort();
      const upstream = useUpstream ? `\n    upstream: 127.0.0.1:${hostPort}` : '';
      await startDaemon(t, engine, `services:\n  late:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}${upstream}\n`);
      const t0 = Date.now();
      const res = await httpGet({ host: '127.0.0.1', port });
      assert.equal(res.status, 200, 'the held first request is answered, not reset');
      assert.ok(Date.now() - t0 >= 1_900, 'it was really held until the app listened');
    }
  });

  it('stops the container after idleTimeout; an open silent connection keeps it running; the next connection starts it again', async (t) => {
    const c = await createPodmanContainer(engine, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'pod-idle', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    const { provider } = await startDaemon(t, engine, `services:\n  idle:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    idleTimeout: 1s\n    stopTimeout: 1s\n`);
    const silent = await connect({ host: '127.0.0.1', port });
    t.after(() => silent.destroy());
    await eventually('container running', () => running(c.name));
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(await running(c.name), true, 'a silent open connection keeps it running');
    silent.destroy();
    await eventually('container stopped after idleTimeout', async () => !(await running(c.name)));
    assert.equal(provider.stops, 1);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    assert.equal(provider.starts, 2);
  });

  it('a container stopped by `podman stop` behind portwake closes its connections; the next connection starts it again', async (t) => {
    const c = await createPodmanContainer(engine, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'pod-outside', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    const { provider, daemon } = await startDaemon(t, engine, `services:\n  outside:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const s = await connect({ host: '127.0.0.1', port });
    t.after(() => s.destroy());
    await eventually('ready', () => daemon.status()[0]?.state === 'ready');
    await new Promise((r) => setTimeout(r, 300)); // let the events stream subscribe
    const closed = whenClosed(s);
    // Through the API of the shared service, not the CLI: Podman 4.3's CLI stop once hung for minutes
    // in CI on a container the service was also busy with (it blocks the whole test process).
    await engine.docker.getContainer(c.name).stop({ t: 0 });
    const how = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 10_000))]);
    assert.ok(how !== undefined, 'the open connection is closed when the container stops underneath');
    await eventually('portwake saw it stopped', () => daemon.status()[0]?.state === 'stopped');
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
    assert.equal(provider.starts, 2);
  });

  it('the API socket going away and coming back: portwake reconnects, re-inspects, and notices a container stopped meanwhile', async (t) => {
    const svc = await ownPodmanService(t);
    const c = await createPodmanContainer(engine, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'pod-outage', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const provider = countingProvider(engine, svc.host);
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, `services:\n  outage:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`, { provider });
    const silent = await connect({ host: '127.0.0.1', port });
    t.after(() => silent.destroy());
    const closed = whenClosed(silent);
    await eventually('ready', () => daemon.status()[0]?.state === 'ready');
    await new Promise((r) => setTimeout(r, 300)); // let the events stream subscribe

    svc.kill(); // the socket file is gone too
    await engine.docker.getContainer(c.name).stop({ t: 0 }); // through the shared service: portwake (on its own) cannot hear of it
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(daemon.status()[0]?.state, 'ready', 'nothing could tell portwake yet');

    await svc.restart();
    await eventually('portwake re-inspected after reconnecting and saw the container stopped', () => daemon.status()[0]?.state === 'stopped', 20_000);
    await closed;
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'the next connection starts it again');
    assert.equal(provider.starts, 2);
  });
});
