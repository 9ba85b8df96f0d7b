// portwake against the real engine when things go wrong: a stop during a start, a failure after
// portwake's own start, a crash-looping container (start limit), and a hung engine (a proxy in
// front of the test engine that stops answering, as a wedged dockerd does).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';
import { connect, countingProvider, eventually, freePort, freePorts, httpdCmd, httpGet, isRunning, runDaemon, startDaemon, whenClosed } from '../support/daemon-harness.ts';
import { recordingLogger } from '../support/control-harness.ts';

let engine: Engine;
let busybox: string;

const running = (name: string): Promise<boolean> => isRunning(engine, name);

/** Sends a request and resolves with how the connection ended (ECONNRESET for a refused one). */
async function request(port: number): Promise<{ how: string; ms: number }> {
  const t0 = Date.now();
  const s = await connect({ host: '127.0.0.1', port });
  const closed = whenClosed(s);
  s.write('GET / HTTP/1.0\r\n\r\n');
  const { how, at } = await closed;
  return { how, ms: at - t0 };
}

/**
 * A unix socket in front of the engine's that forwards until freeze(); then it accepts new
 * connections and never answers, and the connections it was forwarding go silent: a hung dockerd.
 */
async function freezableEngine(t: TestContext, target: string): Promise<{ host: string; freeze(): void }> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-hung-'));
  const path = join(dir, 'docker.sock');
  let frozen = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (frozen) return; // accepted, never answered
    const upstream = net.connect(target);
    sockets.add(upstream);
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => { sockets.delete(upstream); client.destroy(); });
    client.on('data', (d: Buffer) => { if (!frozen) upstream.write(d); });
    upstream.on('data', (d: Buffer) => { if (!frozen) client.write(d); });
  });
  await new Promise<void>((r) => server.listen(path, r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });
  return { host: `unix://${path}`, freeze: () => { frozen = true; } };
}

describe('portwake under faults, against a real Docker engine', { timeout: 240_000 }, () => {
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  it('a stop during a start wins: the container ends stopped, the service stopped, the held client closed', async (t) => {
    // The app listens 4 s after its container started: the start is in flight when the stop comes.
    const c = await createContainer(engine, { image: busybox, cmd: httpdCmd({ delayS: 4 }), expose: [80], nameHint: 'stopwins', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    stopTimeout: 1s\n`);
    const held = request(port);
    await eventually('the container runs (start in flight)', () => running(c.name));
    assert.equal(daemon.status()[0]?.state, 'starting');
    await daemon.stop('web');
    assert.equal(daemon.status()[0]?.state, 'stopped');
    assert.equal(await running(c.name), false, 'the container does not run on');
    const { how } = await held;
    assert.equal(how, 'ECONNRESET', 'the held client is closed (reset) without a reply');
  });

  it('a failure after portwake\'s own start stops the container again; the client sees a reset, every time', async (t) => {
    // Two exposed ports and no `port:`: the upstream cannot be resolved once it runs.
    const c = await createContainer(engine, { image: busybox, cmd: httpdCmd(), expose: [80, 81], nameHint: 'unresolved', stopSignal: 'SIGKILL' });
    t.after(() => c.remove());
    const port = await freePort();
    const { daemon, provider } = await startDaemon(t, engine, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n    stopTimeout: 1s\n`);
    for (let i = 0; i < 3; i++) {
      const { how } = await request(port);
      assert.equal(how, 'ECONNRESET', `attempt ${i + 1}: a reset, not an empty reply`);
      await eventually('the container is stopped again', async () => !(await running(c.name)) && daemon.status()[0]?.state === 'failed');
    }
    assert.equal(daemon.status()[0]?.lastErrorCode, 'UPSTREAM_UNRESOLVED');
    assert.equal(provider.starts, 3);
  });

  it('a crash-looping container is started 5 times (startLimitBurst); then connections are refused at once until the back-off ends', async (t) => {
    const c = await createContainer(engine, { image: busybox, cmd: ['sh', '-c', 'exit 3'], expose: [80], nameHint: 'crashloop' });
    t.after(() => c.remove());
    const port = await freePort();
    // The defaults: 5 failed starts within 60 s begin a 10 s back-off.
    const { daemon, provider, events } = await startDaemon(t, engine, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${c.name}\n`);
    const outcomes: { how: string; ms: number }[] = [];
    for (let i = 0; i < 15; i++) outcomes.push(await request(port));
    assert.equal(provider.startRequests, 5, 'five starts, then none');
    assert.ok(outcomes.every((o) => o.how === 'ECONNRESET'), JSON.stringify(outcomes));
    const refusedFast = outcomes.slice(5).filter((o) => o.ms < 2_000).length;
    assert.equal(refusedFast, 10, 'refused without waiting for anything');
    const s = daemon.status()[0];
    assert.ok(s?.backoffUntil !== undefined && s.backoffUntil > Date.now(), 'status shows the back-off');
    assert.equal(s.backoffRefused, 10);
    assert.equal(events.filter((e) => e.type === 'refused' && e.reason === 'backing_off').length, 10);
    // A manual start clears it: one more start is made (and fails: the container still exits).
    await assert.rejects(daemon.start('web'), /exited during start with code 3/);
    assert.equal(provider.startRequests, 6);
  });

  it('a hung engine: a held client is closed after startTimeout with one line saying the engine did not answer; a ready service keeps serving; a stop ends', async (t) => {
    const hung = await freezableEngine(t, engine.socketPath);
    const ready = await createContainer(engine, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'hung-ready', stopSignal: 'SIGKILL' });
    t.after(() => ready.remove());
    const cold = await createContainer(engine, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'hung-cold', stopSignal: 'SIGKILL' });
    t.after(() => cold.remove());
    const [p1, p2] = await freePorts(2);
    const config = parseConfig(
      `engine: ${hung.host}\nservices:\n` +
        `  ready:\n    listen: 127.0.0.1:${p1}\n    container: ${ready.name}\n    stopTimeout: 1s\n` +
        `  cold:\n    listen: 127.0.0.1:${p2}\n    container: ${cold.name}\n    startTimeout: 3s\n`,
      'test.yaml',
    );
    const logger = recordingLogger();
    const { daemon } = await runDaemon(t, { config, configPath: undefined, logger, provider: countingProvider(engine, hung.host), stopOnExit: false, graceMs: 500 });
    assert.equal((await httpGet({ host: '127.0.0.1', port: p1 })).status, 200);
    hung.freeze();
    const t0 = Date.now();
    const { how } = await request(p2);
    const waited = Date.now() - t0;
    assert.equal(how, 'ECONNRESET');
    assert.ok(waited >= 2_900 && waited < 20_000, `closed after startTimeout (${waited} ms)`);
    const lines = logger.lines.filter((l) => l.level !== 'debug' && /engine did not answer/.test(l.msg));
    assert.equal(lines.length, 1, JSON.stringify(logger.lines.map((l) => l.msg)));
    assert.match(lines[0]?.msg ?? '', /^service "cold": docker start of container "pwtest-hung-cold-[^"]+": engine did not answer within 3 s \(unix:\/\/.*docker\.sock\)/);
    assert.equal((await httpGet({ host: '127.0.0.1', port: p1 })).status, 200, 'the ready service keeps serving');
    const s0 = Date.now();
    await daemon.stop('ready'); // stopTimeout 1 s + a 10 s margin, then given up
    assert.ok(Date.now() - s0 < 30_000);
    assert.equal(daemon.status().find((s) => s.name === 'ready')?.state, 'stopped', 'not stuck in stopping');
    assert.ok(logger.lines.some((l) => /service "ready": stopping container .* failed: docker stop of container .*engine did not answer within 11 s/.test(l.msg)));
  });
});
