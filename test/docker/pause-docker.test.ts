// idleAction: pause against the real engine (busybox httpd): an idle container is paused (inspect
// says Paused), the next connection unpauses it and gets the page with no second start, stopAfter
// stops it, outside unpause/stop while paused keep the state true, and a paused container can be
// stopped (portwake stop, shutdown with --stop-on-exit, a reload that removes its service).

import assert from 'node:assert/strict';
import net from 'node:net';
import { before, describe, it, type TestContext } from 'node:test';
import { eventually, freePort, freePorts, httpdContainer, httpGet, type RunningDaemon, startDaemon } from '../support/daemon-harness.ts';
import { ensureImage, getEngine, type Engine } from '../support/engine.ts';
import { scratchDir, startFileDaemon } from '../support/file-daemon.ts';

const IDLE = '1s';

interface DockerState { Status: string; Running: boolean; Paused: boolean }

async function dockerState(engine: Engine, name: string): Promise<DockerState> {
  const info = (await engine.docker.getContainer(name).inspect()) as unknown as { State: DockerState };
  return info.State;
}

async function containerIp(engine: Engine, name: string): Promise<string> {
  const info = (await engine.docker.getContainer(name).inspect()) as unknown as { NetworkSettings: { IPAddress: string } };
  return info.NetworkSettings.IPAddress;
}

/** Whether a TCP connect to the address completes within timeoutMs (then closed at once). */
function tcpConnects(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => { s.destroy(); resolve(false); }, timeoutMs);
    s.once('connect', () => { clearTimeout(timer); s.destroy(); resolve(true); });
    s.once('error', () => { clearTimeout(timer); resolve(false); });
  });
}

describe('idleAction: pause against a real Docker engine', { timeout: 180_000 }, () => {
  let engine: Engine;
  let busybox: string;
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  async function setUp(t: TestContext, hint: string, extra: string[] = [], o: { stopOnExit?: boolean } = {}): Promise<RunningDaemon & { app: string; port: number; state: () => string }> {
    const app = await httpdContainer(t, engine, busybox, hint);
    const port = await freePort();
    const running = await startDaemon(t, engine, [
      'services:',
      '  web:',
      `    listen: 127.0.0.1:${port}`,
      `    container: ${app.name}`,
      `    idleTimeout: ${IDLE}`,
      '    idleAction: pause',
      ...extra,
      '',
    ].join('\n'), o);
    const state = (): string => running.daemon.status().find((s) => s.name === 'web')?.state ?? 'none';
    return { ...running, app: app.name, port, state };
  }

  async function get(port: number, app: string): Promise<void> {
    const r = await httpGet({ host: '127.0.0.1', port });
    assert.equal(r.status, 200);
    assert.match(r.body.toString(), new RegExp(`hello-from-${(await engine.docker.getContainer(app).inspect()).Config.Hostname}`));
  }

  it('idle → paused (inspect: Paused); the next connection unpauses it and gets the page, with no second start', async (t) => {
    const { app, port, state, provider } = await setUp(t, 'pause-wake');
    await get(port, app);
    await eventually('the idle container is paused', () => state() === 'paused', 20_000);
    const paused = await dockerState(engine, app);
    assert.equal(paused.Paused, true);
    assert.equal(paused.Status, 'paused');
    // Why no readiness probe follows an unpause: the kernel completes a TCP handshake for the frozen
    // listener, so a TCP probe of a paused app succeeds and could tell nothing.
    assert.equal(await tcpConnects(await containerIp(engine, app), 80, 5_000), true, 'a frozen listener still completes handshakes');
    await get(port, app);
    assert.equal(state(), 'ready');
    const thawed = await dockerState(engine, app);
    assert.equal(thawed.Paused, false);
    assert.equal(thawed.Running, true);
    assert.equal(provider.starts, 1, 'one container start in all');
    assert.equal(provider.unpauses, 1);
    assert.equal(provider.stops, 0);
  });

  it('stopAfter stops the paused container; the next connection starts it', async (t) => {
    const { app, port, state, provider } = await setUp(t, 'pause-stopafter', ['    stopAfter: 2s']);
    await get(port, app);
    await eventually('paused', () => state() === 'paused', 20_000);
    await eventually('stopped after stopAfter', () => state() === 'stopped', 20_000);
    assert.equal((await dockerState(engine, app)).Running, false);
    await get(port, app);
    assert.equal(provider.starts, 2);
    assert.equal(provider.unpauses, 0);
  });

  it('an outside unpause while paused makes it ready; an outside stop while paused makes it stopped, and the next connection starts it', async (t) => {
    // A long idle timeout after the first pause would do, but the test needs it paused first: 1 s.
    const { app, port, state, provider } = await setUp(t, 'pause-outside');
    await get(port, app);
    await eventually('paused', () => state() === 'paused', 20_000);
    await engine.docker.getContainer(app).unpause();
    // Ready again (the events stream), then idle → paused again by portwake.
    await eventually('ready or paused again after the outside unpause', () => provider.pauses >= 2 || state() === 'ready', 20_000);
    await eventually('paused again', () => state() === 'paused', 20_000);
    assert.equal(provider.unpauses, 0, 'portwake did not unpause it');
    await engine.docker.getContainer(app).stop({ t: 0 });
    await eventually('stopped after the outside stop', () => state() === 'stopped', 20_000);
    await get(port, app);
    assert.equal(provider.starts, 2, 'started normally');
    assert.equal(provider.unpauses, 0);
  });

  it('portwake stop of a paused container stops it', async (t) => {
    const { daemon, app, port, state } = await setUp(t, 'pause-stop');
    await get(port, app);
    await eventually('paused', () => state() === 'paused', 20_000);
    await daemon.stop('web');
    assert.equal(state(), 'stopped');
    const s = await dockerState(engine, app);
    assert.equal(s.Running, false);
    assert.equal(s.Paused, false);
  });

  it('shutdown with --stop-on-exit stops a paused container portwake started', async (t) => {
    const { daemon, app, port, state } = await setUp(t, 'pause-exit', [], { stopOnExit: true });
    await get(port, app);
    await eventually('paused', () => state() === 'paused', 20_000);
    await daemon.shutdown('test');
    assert.equal((await dockerState(engine, app)).Running, false);
  });

  it('a container found paused (portwake restarted meanwhile) is unpaused by the first connection', async (t) => {
    const { app, port, provider } = await setUp(t, 'pause-found');
    await engine.docker.getContainer(app).start();
    await engine.docker.getContainer(app).pause();
    await get(port, app);
    assert.equal(provider.unpauses, 1);
    assert.equal(provider.starts, 0, 'used as found');
    assert.equal((await dockerState(engine, app)).Paused, false);
  });

  it('a reload that removes a paused service stops its container (nobody would unpause it)', async (t) => {
    const app = await httpdContainer(t, engine, busybox, 'pause-reload');
    const [port, other] = await freePorts(2);
    const body = (name: string, p: number, container: string): string =>
      `  ${name}:\n    listen: 127.0.0.1:${p}\n    container: ${container}\n    idleTimeout: ${IDLE}\n    idleAction: pause\n`;
    const d = await startFileDaemon(t, engine, await scratchDir(t, 'pw-pause-'), `services:\n${body('web', port, app.name)}`, { graceMs: 500 });
    await get(port, app.name);
    await eventually('paused', () => d.daemon.status().find((s) => s.name === 'web')?.state === 'paused', 20_000);
    const keep = await httpdContainer(t, engine, busybox, 'pause-reload-keep');
    await d.write(`services:\n${body('other', other, keep.name)}`);
    const r = await d.daemon.reload();
    assert.deepEqual(r.removed, ['web']);
    await eventually('the removed service\'s paused container is stopped', async () => !(await dockerState(engine, app.name)).Running, 20_000);
  });

  it('--stop-on-exit: a container inherited over a reload stays owned while paused, and is stopped at shutdown', async (t) => {
    const app = await httpdContainer(t, engine, busybox, 'pause-inherit');
    const port = await freePort();
    const body = (extra: string): string =>
      `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${app.name}\n    idleTimeout: ${IDLE}\n    idleAction: pause\n${extra}`;
    const d = await startFileDaemon(t, engine, await scratchDir(t, 'pw-pause-'), body(''), { graceMs: 500, stopOnExit: true });
    await get(port, app.name);
    assert.equal(d.provider.starts, 1, 'portwake started it');
    // A new port replaces the service; the successor takes over the running container, which it
    // finds running (not its own start): only the reload's inheritance makes it owned.
    await d.write(body('    port: 80\n'));
    await d.daemon.reload();
    await eventually('the successor paused the idle container', () => d.daemon.status().find((s) => s.name === 'web')?.state === 'paused', 20_000);
    await d.daemon.shutdown('test');
    assert.equal((await dockerState(engine, app.name)).Running, false, 'stopped at shutdown');
  });
});

