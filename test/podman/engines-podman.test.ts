// Two engines at once, for real: the shared test dockerd (the default engine) and a Podman (engines:
// podman, a podman service of this test's own), one service on each. Status and log lines name the
// engine; taking Podman's API away (its service killed, its socket gone) fails only the Podman
// service, while the Docker one keeps serving and still follows its own engine's events.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { Logger } from '../../src/core/logger.ts';
import { countingProvider, eventually, freePorts, httpdCmd, httpGet, isRunning, runDaemon } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';
import { createPodmanContainer, ensurePodmanImage, getPodman, startPodmanService } from '../support/podman.ts';

interface Line { level: string; bindings: Record<string, unknown>; obj: object; msg: string }

/** A logger that keeps every line with its child bindings. */
function capturingLogger(lines: Line[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (obj: object, msg: string): void => { lines.push({ level, bindings, obj, msg }); };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => capturingLogger(lines, { ...bindings, ...b }) };
}

async function ownPodmanService(t: TestContext): Promise<{ host: string; kill(): void; restart(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'pw-podman-eng-'));
  const socket = join(dir, 'podman.sock');
  let pid: number | undefined = (await startPodmanService(socket, join(dir, 'podman.log'))).pid;
  const kill = (): void => {
    if (pid !== undefined) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    pid = undefined;
    rmSync(socket, { force: true });
  };
  t.after(() => { kill(); rmSync(dir, { recursive: true, force: true }); });
  return { host: `unix://${socket}`, kill, restart: async () => { pid = (await startPodmanService(socket, join(dir, 'podman.log'))).pid; } };
}

/** A GET that resolves with the status, or with the error's code/message when the connection fails. */
async function tryGet(port: number): Promise<number | string> {
  try {
    return (await httpGet({ host: '127.0.0.1', port }, '/', 15_000)).status;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
  }
}

describe('two engines at once: Docker and Podman', { timeout: 180_000 }, () => {
  let docker: Engine;
  let podman: Engine;
  let busybox: string;
  let podBusybox: string;
  before(async () => {
    [docker, podman] = await Promise.all([getEngine(), getPodman()]);
    [busybox, podBusybox] = await Promise.all([ensureImage('busybox'), ensurePodmanImage('busybox')]);
  });

  it('each service runs on its own engine; Podman going away fails only its service, and it serves again once Podman is back', async (t) => {
    const svc = await ownPodmanService(t);
    const dc = await createContainer(docker, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'eng-docker', stopSignal: 'SIGKILL' });
    t.after(() => dc.remove());
    const pc = await createPodmanContainer(podman, { image: podBusybox, cmd: httpdCmd(), expose: [80], nameHint: 'eng-podman', stopSignal: 'SIGKILL' });
    t.after(() => pc.remove());
    const [dport, pport] = await freePorts(2);
    const config = parseConfig([
      `engine: ${docker.dockerHost}`,
      'engines:',
      `  podman: ${svc.host}`,
      'services:',
      `  dock: {listen: "127.0.0.1:${dport}", container: ${dc.name}}`,
      `  pod: {listen: "127.0.0.1:${pport}", container: ${pc.name}, engine: podman, startTimeout: 5s}`,
      '',
    ].join('\n'), 'engines.yaml');
    const lines: Line[] = [];
    const { daemon } = await runDaemon(t, { config, configPath: undefined, logger: capturingLogger(lines), provider: countingProvider(docker), stopOnExit: false, graceMs: 500 });
    const state = (name: string): string | undefined => daemon.status().find((s) => s.name === name)?.state;

    assert.deepEqual(daemon.status().map((s) => [s.name, s.engine]), [['dock', 'default'], ['pod', 'podman']]);
    assert.equal(await tryGet(dport), 200);
    assert.equal(await tryGet(pport), 200);
    assert.equal(await isRunning(docker, dc.name), true, 'the Docker container runs on Docker');
    assert.equal(await isRunning(podman, pc.name), true, 'the Podman container runs on Podman');
    await new Promise((r) => setTimeout(r, 300)); // let both events streams subscribe

    // Podman's API goes away mid-test (the service killed, its socket file gone).
    svc.kill();
    await eventually('a log line names the engine whose events stream was lost', () =>
      lines.some((l) => l.level === 'warn' && l.bindings['engine'] === 'podman' && /events stream of engine "podman" .*lost/.test(l.msg)));
    assert.equal(await tryGet(pport), 200, 'a running Podman container is still forwarded to: the data path needs no API');

    // The Docker service is untouched: it serves, and still hears its own engine's events.
    assert.equal(await tryGet(dport), 200);
    await docker.docker.getContainer(dc.name).stop({ t: 0 });
    await eventually('the Docker service saw its container stop (Docker events still followed)', () => state('dock') === 'stopped');
    assert.equal(await tryGet(dport), 200, 'and starts it again on the next connection');
    assert.equal(state('dock'), 'ready');
    assert.ok(!lines.some((l) => l.bindings['engine'] === 'default' && /lost/.test(l.msg)), 'no outage logged for the Docker engine');

    // Back, then the Podman service stopped through portwake, then the API gone again: a cold start there.
    await svc.restart();
    await eventually('the Podman events stream is re-established', () => lines.some((l) => l.bindings['engine'] === 'podman' && /re-established/.test(l.msg)), 30_000);
    await daemon.stop('pod');
    assert.equal(state('pod'), 'stopped');
    svc.kill();

    // A cold start on the Podman engine fails promptly, and the error names that engine's endpoint.
    const t0 = Date.now();
    assert.notEqual(await tryGet(pport), 200);
    assert.ok(Date.now() - t0 < 10_000, `failed within the start timeout, not hung (${Date.now() - t0}ms)`);
    const pod = daemon.status().find((s) => s.name === 'pod');
    assert.ok((pod?.lastError ?? '').includes(svc.host), `the error names the Podman endpoint: ${pod?.lastError}`);
    assert.equal(await tryGet(dport), 200, 'the Docker service still serves');

    await svc.restart();
    await eventually('the Podman service serves again', async () => (await tryGet(pport)) === 200, 30_000);
    assert.equal(await tryGet(dport), 200);
  });

  it('discovery runs on both engines: each labelled container is served on its own engine, and one created on Podman while portwake runs gets its listener', async (t) => {
    const prefix = `pwe${Date.now().toString(36)}`;
    const [dport, pport, lport] = await freePorts(3);
    const dc = await createContainer(docker, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'disc-docker', stopSignal: 'SIGKILL', labels: { [`${prefix}.listen`]: `127.0.0.1:${dport}` } });
    t.after(() => dc.remove());
    const pc = await createPodmanContainer(podman, { image: podBusybox, cmd: httpdCmd(), expose: [80], nameHint: 'disc-podman', stopSignal: 'SIGKILL', labels: { [`${prefix}.listen`]: `127.0.0.1:${pport}` } });
    t.after(() => pc.remove());
    const config = parseConfig([
      `engine: ${docker.dockerHost}`,
      'engines:',
      `  podman: ${podman.dockerHost}`,
      'discovery:',
      `  docker: {labelPrefix: ${prefix}}`,
      '',
    ].join('\n'), 'engines.yaml');
    const lines: Line[] = [];
    const { daemon } = await runDaemon(t, { config, configPath: undefined, logger: capturingLogger(lines), provider: countingProvider(docker), stopOnExit: false, graceMs: 500 });
    const engines = (): string[][] => daemon.status().map((s) => [s.name, s.engine ?? '']).sort();
    assert.deepEqual(engines(), [[dc.name, 'default'], [pc.name, 'podman']].sort());
    assert.equal(await tryGet(dport), 200);
    assert.equal(await tryGet(pport), 200);
    assert.equal(await isRunning(docker, dc.name), true, 'the Docker container runs on Docker');
    assert.equal(await isRunning(podman, pc.name), true, 'the Podman container runs on Podman');

    // Live on Podman: its events stream (create, remove) is followed like Docker's.
    const late = await createPodmanContainer(podman, { image: podBusybox, cmd: httpdCmd(), expose: [80], nameHint: 'disc-podman-late', stopSignal: 'SIGKILL', labels: { [`${prefix}.listen`]: `127.0.0.1:${lport}` } });
    let removed = false;
    t.after(async () => { if (!removed) await late.remove(); });
    await eventually('the container created on Podman gets its listener', () => daemon.status().some((s) => s.name === late.name && s.engine === 'podman' && s.listeners.length === 1), 20_000);
    assert.equal(await tryGet(lport), 200);
    await late.remove();
    removed = true;
    await eventually('the container removed from Podman loses its service', () => !daemon.status().some((s) => s.name === late.name), 20_000);
    assert.deepEqual(lines.filter((l) => l.level === 'warn' || l.level === 'error').map((l) => l.msg).filter((m) => m.startsWith('discovery')), []);
  });
});
