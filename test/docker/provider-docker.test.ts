// The Docker provider against the real engine: the shared provider contract, then what only Docker
// has (bridge addresses, published ports, network modes, engine error messages, env isolation).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ProviderError, ProviderUnreachableError } from '../../src/core/errors.ts';
import type { Provider } from '../../src/core/provider.ts';
import { createDockerProvider } from '../../src/providers/docker/provider.ts';
import { freePort } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine, type Engine, type TestContainer, type TestContainerOptions } from '../support/engine.ts';
import { engineContractFixture } from '../support/engine-contract-fixture.ts';
import { providerContract, type ProviderFixture } from '../support/provider-contract.ts';

const SERVE = 'httpd -f -p 80 -h /www & wait';

const dockerFixture = async (): Promise<ProviderFixture> =>
  engineContractFixture({ engine: await getEngine(), image: await ensureImage('busybox'), create: createContainer, what: 'engine' });

providerContract('docker', dockerFixture);

describe('docker provider on the real engine', () => {
  async function setup(t: TestContext, opts: Partial<TestContainerOptions> = {}): Promise<{ engine: Engine; provider: Provider; c: TestContainer }> {
    const engine = await getEngine();
    const image = await ensureImage('busybox');
    const c = await createContainer(engine, { image, cmd: ['sh', '-c', `trap "exit 0" TERM; ${SERVE}`], nameHint: 'docker', ...opts });
    t.after(() => c.remove());
    return { engine, provider: createDockerProvider({ host: engine.dockerHost }), c };
  }

  it('a started container answers HTTP at its bridge address from the host', async (t) => {
    const { provider, c } = await setup(t);
    await provider.start(c.name);
    const info = await provider.inspect(c.name);
    assert.equal(info.networkMode, 'bridge');
    const bridge = info.networks.find((n) => n.name === 'bridge');
    assert.match(bridge?.ipAddress ?? '', /^10\.213\.0\.\d+$/, 'the private engine allocates from pwtest0 (10.213.0.0/24)');
    const body = await retry(async () => (await fetch(`http://${bridge?.ipAddress}/`, { signal: AbortSignal.timeout(2000) })).text());
    assert.match(body, /hello from portwake-test/);
  });

  it('published ports: fixed ones are known while stopped, engine-chosen ones once running, all reachable', async (t) => {
    // A port the kernel just gave out and took back (a random one could be in use: it was, once).
    const fixed = await freePort();
    const { provider, c } = await setup(t, { publish: [{ containerPort: 80 }, { containerPort: 8080, hostPort: fixed }], expose: [9000] });
    const stopped = await provider.inspect(c.name);
    assert.deepEqual(stopped.exposedPorts, [80, 8080, 9000]);
    assert.deepEqual(stopped.published, [{ containerPort: 8080, hostIp: '127.0.0.1', hostPort: fixed }]);
    await provider.start(c.name);
    const running = await provider.inspect(c.name);
    const p80 = running.published.find((p) => p.containerPort === 80);
    assert.ok(p80 !== undefined && p80.hostPort > 0 && p80.hostIp === '127.0.0.1', JSON.stringify(running.published));
    assert.ok(running.published.some((p) => p.containerPort === 8080 && p.hostPort === fixed));
    const body = await retry(async () => (await fetch(`http://127.0.0.1:${p80.hostPort}/`, { signal: AbortSignal.timeout(2000) })).text());
    assert.match(body, /hello from portwake-test/);
  });

  it('the nginx test image serves /www on its published port and stops promptly on SIGTERM', async (t) => {
    const engine = await getEngine();
    const c = await createContainer(engine, { image: await ensureImage('nginx'), nameHint: 'nginx', publish: [{ containerPort: 80 }] });
    t.after(() => c.remove());
    const provider = createDockerProvider({ host: engine.dockerHost });
    await provider.start(c.name);
    const port = (await provider.inspect(c.name)).published.find((p) => p.containerPort === 80)?.hostPort;
    const res = await retry(() => fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) }));
    assert.equal(res.headers.get('server')?.startsWith('nginx'), true);
    assert.match(await res.text(), /hello from portwake-test/);
    const t0 = Date.now();
    await provider.stop(c.name, 10);
    assert.ok(Date.now() - t0 < 5000, `nginx took ${Date.now() - t0}ms to stop`);
    assert.equal((await provider.inspect(c.name)).exitCode, 0);
  });

  it('network modes none and host are reported as such', async (t) => {
    const none = await setup(t, { networkMode: 'none' });
    await none.provider.start(none.c.name);
    const n = await none.provider.inspect(none.c.name);
    assert.equal(n.networkMode, 'none');
    assert.ok(n.networks.every((x) => x.ipAddress === ''), JSON.stringify(n.networks));
    const host = await setup(t, { networkMode: 'host', cmd: ['sleep', '60'] });
    assert.equal((await host.provider.inspect(host.c.name)).networkMode, 'host');
  });

  it('a container on two networks has an address on each, both reachable', async (t) => {
    const { engine, provider, c } = await setup(t);
    const subnet = `10.214.${Math.floor(Math.random() * 250) + 1}`;
    const net = await engine.docker.createNetwork({
      Name: `pwtest-net-${process.pid}-${randomBytes(3).toString('hex')}`,
      Labels: { 'portwake-test': '1' },
      IPAM: { Config: [{ Subnet: `${subnet}.0/24`, Gateway: `${subnet}.1` }] },
    });
    t.after(async () => {
      await c.remove(); // a network with an endpoint cannot be removed
      await net.remove();
    });
    await net.connect({ Container: c.id });
    await provider.start(c.name);
    const info = await provider.inspect(c.name);
    const onNet = info.networks.find((x) => x.ipAddress.startsWith(`${subnet}.`));
    assert.ok(onNet !== undefined, JSON.stringify(info.networks));
    assert.ok(info.networks.some((x) => x.name === 'bridge' && x.ipAddress !== ''));
    const body = await retry(async () => (await fetch(`http://${onNet.ipAddress}/`, { signal: AbortSignal.timeout(2000) })).text());
    assert.match(body, /hello/);
  });

  it("a failed start carries the engine's message", async (t) => {
    const { provider, c } = await setup(t, { cmd: ['/no/such/binary'] });
    const err = await provider.start(c.name).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ProviderError, String(err));
    assert.equal(err.code, 'PROVIDER_FAILED');
    assert.match(err.message, new RegExp(`start of container "${c.name}" failed: .*no/such/binary.*\\(HTTP \\d{3}\\)`));
  });

  it('aborting a stop in flight rejects at once with the reason', async (t) => {
    const { provider, c } = await setup(t, { cmd: ['sh', '-c', `trap "" TERM; ${SERVE}`] });
    await provider.start(c.name);
    const ac = new AbortController();
    const reason = new Error('shutting down');
    const t0 = Date.now();
    setTimeout(() => ac.abort(reason), 300).unref();
    const err = await provider.stop(c.name, 30, ac.signal).then(() => undefined, (e: unknown) => e);
    assert.equal(err, reason);
    assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0}ms`);
  });

  it('only the injected address counts, whatever DOCKER_HOST and DOCKER_TLS_VERIFY say', async (t) => {
    const engine = await getEngine();
    const saved = { host: process.env['DOCKER_HOST'], verify: process.env['DOCKER_TLS_VERIFY'] };
    t.after(() => {
      restoreEnv('DOCKER_HOST', saved.host);
      restoreEnv('DOCKER_TLS_VERIFY', saved.verify);
    });
    // Docker's own clients (and dockerode, which portwake used before) read these themselves.
    process.env['DOCKER_HOST'] = 'unix:///nonexistent/docker.sock';
    await createDockerProvider({ host: engine.dockerHost }).ping();
    process.env['DOCKER_HOST'] = 'tcp://127.0.0.1:1';
    process.env['DOCKER_TLS_VERIFY'] = '1';
    const p = createDockerProvider({ host: engine.dockerHost });
    await p.ping();
    assert.equal((await p.inspect(`pwtest-missing-${process.pid}`).catch((e: unknown) => e) as Error).name, 'ContainerNotFoundError');
  });

  it('a refusing tcp:// endpoint and a socket path that is not a socket are unreachable', async (t) => {
    const tcp = createDockerProvider({ host: 'tcp://127.0.0.1:1' });
    const e1 = await tcp.ping().then(() => undefined, (e: unknown) => e);
    assert.ok(e1 instanceof ProviderUnreachableError, String(e1));
    assert.match(e1.message, /tcp:\/\/127\.0\.0\.1:1 is unreachable.*ECONNREFUSED/);
    const notSocket = join(tmpdir(), `pwtest-not-a-socket-${process.pid}`);
    writeFileSync(notSocket, '');
    t.after(() => rmSync(notSocket, { force: true }));
    const e2 = await createDockerProvider({ host: `unix://${notSocket}` }).inspect('x').then(() => undefined, (e: unknown) => e);
    assert.ok(e2 instanceof ProviderUnreachableError, String(e2));
  });
});

function restoreEnv(key: string, value: string | undefined): void {
  if (value === undefined) delete process.env[key];
  else process.env[key] = value;
}

/** The app inside may need a moment after start; retries for up to 5 s. */
async function retry<T>(fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + 5000;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await delay(100);
    }
  }
}
