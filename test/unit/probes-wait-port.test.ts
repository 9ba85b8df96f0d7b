// The wait-port loop on a manual clock (backoff, deadline, abort, fatal attempts), target parsing,
// and the container attempt against a stub provider and stub probes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ContainerNotFoundError, PortwakeError } from '../../src/core/errors.ts';
import type { ContainerInfo, Endpoint, Provider } from '../../src/core/provider.ts';
import type { ProbeOutcome, Probes } from '../../src/core/readiness.ts';
import { addressAttempt, containerAttempt, parseWaitTarget } from '../../src/probes/wait-port-targets.ts';
import { nextProbeDelay, waitPort, WaitPortTimeoutError } from '../../src/probes/wait-port.ts';
import { ManualClock } from '../support/manual-clock.ts';

describe('waitPort loop', () => {
  it('backs off from 5 ms to a 100 ms cap', () => {
    const delays: number[] = [];
    let d: number | undefined;
    for (let i = 0; i < 12; i++) delays.push((d = nextProbeDelay(d, 5, 100)));
    assert.deepEqual(delays, [5, 8, 12, 18, 27, 41, 62, 93, 100, 100, 100, 100]);
  });

  it('resolves on the first good attempt, with the count', async () => {
    const clock = new ManualClock();
    let n = 0;
    const p = waitPort({ attempt: async () => (++n < 4 ? { ok: false, detail: 'refused' } : { ok: true }), what: 'x', timeoutMs: 1_000, clock });
    await clock.advance(100);
    const r = await p;
    assert.equal(r.attempts, 4);
    assert.equal(r.elapsedMs, 5 + 8 + 12);
    assert.equal(clock.pendingTimers, 0);
  });

  it('times out with the last probe in the message', async () => {
    const clock = new ManualClock();
    const p = waitPort({ attempt: async () => ({ ok: false, detail: 'connect ECONNREFUSED 127.0.0.1:9' }), what: '127.0.0.1:9', timeoutMs: 60_000, clock });
    const rejected = assert.rejects(p, (err: unknown) => {
      assert.ok(err instanceof WaitPortTimeoutError);
      assert.equal(err.code, 'READY_TIMEOUT');
      assert.equal(err.message, '127.0.0.1:9 not ready after 1m (last probe: connect ECONNREFUSED 127.0.0.1:9)');
      return true;
    });
    await clock.advance(60_000);
    await rejected;
  });

  it('aborts an attempt in flight at the deadline', async () => {
    const clock = new ManualClock();
    const hang = (signal: AbortSignal): Promise<ProbeOutcome> =>
      new Promise((resolve) => signal.addEventListener('abort', () => resolve({ ok: false, detail: 'aborted' })));
    const p = waitPort({ attempt: hang, what: 'x', timeoutMs: 500, clock });
    const rejected = assert.rejects(p, /x not ready after 500ms$/);
    await clock.advance(500);
    await rejected;
  });

  it('ends at once when an attempt throws, or the caller aborts', async () => {
    const clock = new ManualClock();
    await assert.rejects(
      waitPort({ attempt: async () => { throw new ContainerNotFoundError('web'); }, what: 'x', timeoutMs: 500, clock }),
      ContainerNotFoundError,
    );
    const ac = new AbortController();
    const p = waitPort({ attempt: async () => ({ ok: false, detail: 'no' }), what: 'x', timeoutMs: 5_000, clock, signal: ac.signal });
    const rejected = assert.rejects(p, /stop/);
    await clock.advance(50);
    ac.abort(new Error('stop'));
    await rejected;
  });
});

describe('wait-port targets', () => {
  it('parses HOST:PORT, [v6]:PORT, PORT, :PORT and socket paths', () => {
    assert.deepEqual(parseWaitTarget('10.0.0.1:8080'), { kind: 'tcp', host: '10.0.0.1', port: 8080 });
    assert.deepEqual(parseWaitTarget('localhost:80'), { kind: 'tcp', host: 'localhost', port: 80 });
    assert.deepEqual(parseWaitTarget('[::1]:80'), { kind: 'tcp', host: '::1', port: 80 });
    assert.deepEqual(parseWaitTarget('8080'), { kind: 'tcp', host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseWaitTarget(':8080'), { kind: 'tcp', host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseWaitTarget('/run/app.sock'), { kind: 'unix', path: '/run/app.sock' });
    assert.deepEqual(parseWaitTarget('unix:/run/app.sock'), { kind: 'unix', path: '/run/app.sock' });
    for (const bad of ['', 'host', 'host:', 'host:0', 'host:70000', '::1:80', 'a:b:80']) {
      assert.throws(() => parseWaitTarget(bad), (e: unknown) => e instanceof PortwakeError && e.code === 'USAGE', bad);
    }
  });

  const calls: Array<[string, Endpoint, boolean]> = [];
  const probes: Probes = {
    tcp: async (target, settle) => {
      calls.push(['tcp', target, settle]);
      return { ok: true };
    },
    http: async (target) => {
      calls.push(['http', target, false]);
      return { ok: true };
    },
  };

  it('probes a fixed address with the settle window', async () => {
    calls.length = 0;
    const target: Endpoint = { kind: 'tcp', host: '127.0.0.1', port: 8080 };
    await addressAttempt(target, { kind: 'tcp' }, probes)(new AbortController().signal);
    assert.deepEqual(calls, [['tcp', target, true]]);
  });

  function stubProvider(infos: Array<Partial<ContainerInfo> | Error>): Provider {
    return {
      endpoint: 'stub://',
      inspect: async (name) => {
        const next = infos.shift() ?? {};
        if (next instanceof Error) throw next;
        return {
          id: 'c1', name, status: 'running', running: true, health: 'none', exitCode: undefined, exposedPorts: [80], published: [],
          networks: [{ name: 'bridge', ipAddress: '127.0.0.1', globalIPv6Address: '' }], networkMode: 'bridge', hasHealthcheck: false, startedAt: undefined, ...next,
        };
      },
      start: async () => false,
      stop: async () => undefined,
      events: () => { throw new Error('unused'); },
      ping: async () => undefined,
    };
  }

  it('waits for a container to run, then probes its own address directly', async () => {
    calls.length = 0;
    const signal = new AbortController().signal;
    const attempt = containerAttempt(stubProvider([{ running: false, status: 'created' }, new Error('connect ENOENT /var/run/docker.sock'), {}]), 'web', undefined, { kind: 'tcp' }, probes);
    assert.deepEqual(await attempt(signal), { ok: false, detail: 'container "web" is created' });
    assert.deepEqual(await attempt(signal), { ok: false, detail: 'connect ENOENT /var/run/docker.sock' });
    assert.deepEqual(await attempt(signal), { ok: true });
    assert.deepEqual(calls, [['tcp', { kind: 'tcp', host: '127.0.0.1', port: 80 }, false]]);
  });

  it('with the upstream a proxy forwards to, probes the container port published there, directly', async () => {
    calls.length = 0;
    const signal = new AbortController().signal;
    const published = { exposedPorts: [80, 443], published: [{ containerPort: 443, hostIp: '0.0.0.0', hostPort: 8443 }, { containerPort: 80, hostIp: '0.0.0.0', hostPort: 8080 }] };
    const attempt = containerAttempt(stubProvider([published]), 'web', undefined, { kind: 'tcp' }, probes, { kind: 'tcp', host: '10.213.0.1', port: 8080 });
    assert.deepEqual(await attempt(signal), { ok: true });
    assert.deepEqual(calls, [['tcp', { kind: 'tcp', host: '127.0.0.1', port: 80 }, false]], 'the container\'s own address and port, no settle window');
  });

  it('gives up at once on a missing container or an ambiguous port', async () => {
    const signal = new AbortController().signal;
    await assert.rejects(containerAttempt(stubProvider([new ContainerNotFoundError('nope')]), 'nope', undefined, { kind: 'tcp' }, probes)(signal), ContainerNotFoundError);
    await assert.rejects(
      containerAttempt(stubProvider([{ exposedPorts: [80, 443] }]), 'web', undefined, { kind: 'tcp' }, probes)(signal),
      /exposes several ports \(80, 443\); set port:/,
    );
  });
});
