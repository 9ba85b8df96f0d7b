// Stacks against the fake provider and a manual clock: dependsOn wired as the daemon wires it
// (dependencies.ts) — order, parallel starts, reference counting, idle-out, failures and races —
// container groups, and restartPolicy: manage.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Activation, type ActivationSpec } from '../../src/core/activation/activation.ts';
import type { Lease } from '../../src/core/backend.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { dependenciesHook, RESTART_DELAY_MS } from '../../src/daemon/dependencies.ts';
import { FakeProvider, type FakeContainerOptions } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';

type Def = Omit<Partial<ActivationSpec>, 'container'> & { container: FakeContainerOptions | FakeContainerOptions[] };

/** Activations named by `defs`' keys, each on containers of its own, wired to each other by dependsOn. */
function stack(defs: Record<string, Def>) {
  const clock = new ManualClock();
  const provider = new FakeProvider(clock);
  const services = new Map<string, Activation>();
  const lifetime = new AbortController();
  for (const [name, { container, ...spec }] of Object.entries(defs)) {
    const containers = Array.isArray(container) ? container : [container];
    for (const c of containers) provider.add({ startMs: 50, listenMs: 100, ...c });
    const [first, ...members] = containers.map((c) => c.name);
    const a = new Activation(
      {
        name, container: first ?? '', port: undefined, upstream: undefined, ready: { kind: 'tcp' }, startTimeoutMs: 60_000, idleTimeoutMs: 10_000, stopTimeoutMs: 10_000,
        ...(members.length > 0 ? { members } : {}),
        ...spec,
      },
      {
        provider, probes: provider.probes(), clock, logger: silentLogger, emit: () => undefined,
        dependencies: dependenciesHook(name, { backend: (n) => services.get(n), logger: silentLogger, signal: lifetime.signal, clock }),
      },
    );
    services.set(name, a);
  }
  const get = (name: string): Activation => {
    const a = services.get(name);
    assert.ok(a, name);
    return a;
  };
  const container = (name: string) => {
    const c = provider.containers.get(name);
    assert.ok(c, name);
    return c;
  };
  return { clock, provider, get, container };
}

function settled<T>(p: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const s: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then((v) => { s.value = v; s.done = true; }, (e: unknown) => { s.error = e; s.done = true; });
  return s;
}

const never = (): AbortSignal => new AbortController().signal;

describe('stacks: dependsOn', () => {
  it('starts the dependencies first, in parallel, each ready by its own rule, then the service', async () => {
    const { clock, get, container } = stack({
      app: { container: { name: 'app1' }, dependsOn: ['db', 'cache'] },
      db: { container: { name: 'db1', startMs: 50, listenMs: 300 } },
      cache: { container: { name: 'cache1', startMs: 50, listenMs: 100 } },
    });
    const t0 = clock.now();
    const w = settled(get('app').acquire(never()));
    await clock.advance(60);
    assert.equal(container('db1').running, true);
    assert.equal(container('cache1').running, true, 'cache starts beside db, not after it');
    assert.equal(container('app1').running, false, 'the app waits for both');
    await clock.advance(200);
    assert.equal(get('cache').stateKind, 'ready');
    assert.equal(container('app1').running, false, 'db is not ready yet');
    await clock.advance(200);
    assert.equal(get('db').stateKind, 'ready');
    assert.ok((container('app1').startedAt ?? 0) >= t0 + 350, 'the app started after db was ready');
    await clock.advance(200);
    assert.ok(w.value, 'the connection is served');
    assert.equal(get('db').status().openConnections, 1, 'the app holds db');
  });

  it('keeps a dependency up while any dependent is up, and idles it out after the last one by its own rule', async () => {
    const { clock, get, container } = stack({
      a: { container: { name: 'a1' }, dependsOn: ['db'], idleTimeoutMs: 10_000 },
      b: { container: { name: 'b1' }, dependsOn: ['db'], idleTimeoutMs: 20_000 },
      db: { container: { name: 'db1' }, idleTimeoutMs: 5_000 },
    });
    const la = settled(get('a').acquire(never()));
    const lb = settled(get('b').acquire(never()));
    await clock.advance(1_000);
    assert.equal(container('db1').startedAt !== undefined, true);
    assert.equal(get('db').status().openConnections, 2, 'one lease per dependent');
    (la.value as Lease).release();
    (lb.value as Lease).release();
    await clock.advance(10_500);
    assert.equal(get('a').stateKind, 'stopped');
    assert.equal(get('db').stateKind, 'ready', 'b still runs');
    await clock.advance(10_000);
    assert.equal(get('b').stateKind, 'stopped');
    assert.equal(get('db').stateKind, 'ready', 'its own idleTimeout counts from the last dependent stopping');
    await clock.advance(4_000);
    assert.equal(get('db').stateKind, 'ready');
    await clock.advance(1_500);
    assert.equal(get('db').stateKind, 'stopped');
    assert.equal(container('db1').running, false);
  });

  it('a dependency\'s own connection keeps it up after its dependents stopped', async () => {
    const { clock, get } = stack({
      app: { container: { name: 'app1' }, dependsOn: ['db'], idleTimeoutMs: 1_000 },
      db: { container: { name: 'db1' }, idleTimeoutMs: 1_000 },
    });
    const app = settled(get('app').acquire(never()));
    await clock.advance(500);
    const own = await get('db').acquire(never());
    (app.value as Lease).release();
    await clock.advance(5_000);
    assert.equal(get('app').stateKind, 'stopped');
    assert.equal(get('db').stateKind, 'ready', 'its own connection is open');
    own.release();
    await clock.advance(1_500);
    assert.equal(get('db').stateKind, 'stopped');
  });

  it('a dependency that fails to start fails the service\'s start, naming it, and its container is never started', async () => {
    const { clock, get, container } = stack({
      app: { container: { name: 'app1' }, dependsOn: ['db', 'cache'] },
      db: { container: { name: 'db1', crashAfterMs: 0, listenMs: 1_000 } },
      cache: { container: { name: 'cache1', listenMs: 2_000 } },
    });
    const w = settled(get('app').acquire(never()));
    await clock.advance(1_500); // the fake's exit is noticed by the readiness wait's inspections
    assert.ok(w.error instanceof PortwakeError, String(w.error));
    assert.equal(w.error.code, 'DEPENDENCY_FAILED');
    assert.match(w.error.message, /^service "app": dependency "db" failed to start: service "db": container "db1" exited during start with code 1/);
    assert.equal(container('app1').startedAt, undefined, 'the app was never started');
    assert.equal(get('app').stateKind, 'failed');
    // The sibling's start goes on (single flight), then idles out: nobody holds it.
    await clock.advance(1_000);
    assert.equal(get('cache').stateKind, 'ready');
    assert.equal(get('cache').status().openConnections, 0);
    await clock.advance(10_000);
    assert.equal(get('cache').stateKind, 'stopped');
  });

  it('a stop of the service while its dependency is still starting: nothing of the service starts, the dependency idles out', async () => {
    const { clock, get, container } = stack({
      app: { container: { name: 'app1' }, dependsOn: ['db'] },
      db: { container: { name: 'db1', listenMs: 1_000 }, idleTimeoutMs: 3_000 },
    });
    const w = settled(get('app').acquire(never()));
    await clock.advance(100);
    assert.equal(get('db').stateKind, 'starting');
    const stopped = settled(get('app').stop('control'));
    await clock.advance(10);
    assert.ok(stopped.done, 'the stop does not wait for the dependency');
    assert.ok(w.error instanceof PortwakeError);
    assert.equal(get('app').stateKind, 'stopped');
    await clock.advance(1_000);
    assert.equal(get('db').stateKind, 'ready');
    assert.equal(get('db').status().openConnections, 0, 'the abandoned wait took no lease');
    assert.equal(container('app1').startedAt, undefined);
    await clock.advance(3_500);
    assert.equal(get('db').stateKind, 'stopped');
  });

  it('a dependency that stops while its dependent runs is started again', async () => {
    const { clock, get, provider, container } = stack({
      app: { container: { name: 'app1' }, dependsOn: ['db'] },
      db: { container: { name: 'db1' } },
    });
    const w = settled(get('app').acquire(never()));
    await clock.advance(500);
    assert.ok(w.value);
    provider.kill('db1');
    await get('db').resync('die');
    assert.equal(get('db').stateKind, 'stopped', 'not at once: the dependent may be stopping too');
    await clock.advance(RESTART_DELAY_MS);
    assert.equal(get('db').stateKind, 'starting', 'started again for its dependent');
    await clock.advance(500);
    assert.equal(container('db1').running, true);
    assert.equal(get('db').status().openConnections, 1, 'held again');
  });

  it('a dependency stopped with its dependent (a whole stack stopped outside, docker-compose down) is not started again', async () => {
    const { clock, get, provider, container } = stack({
      app: { container: { name: 'app1' }, dependsOn: ['db'] },
      db: { container: { name: 'db1' } },
    });
    const w = settled(get('app').acquire(never()));
    await clock.advance(500);
    assert.ok(w.value);
    w.value.release();
    // The dependency's die is seen first, then the dependent's, within the delay.
    provider.kill('db1');
    await get('db').resync('die');
    await clock.advance(100);
    provider.kill('app1');
    await get('app').resync('die');
    await clock.advance(RESTART_DELAY_MS * 3);
    assert.equal(get('app').stateKind, 'stopped');
    assert.equal(get('db').stateKind, 'stopped', 'not brought back: nothing runs that needs it');
    assert.equal(container('db1').running, false);
  });

  it('a manual stop of the service lets go of its dependencies', async () => {
    const { clock, get } = stack({
      app: { container: { name: 'app1' }, dependsOn: ['db'] },
      db: { container: { name: 'db1' }, idleTimeoutMs: 1_000 },
    });
    const w = settled(get('app').ensureReady(never()));
    await clock.advance(500);
    assert.ok(w.done);
    assert.equal(get('db').status().openConnections, 1);
    await get('app').stop('control');
    assert.equal(get('db').status().openConnections, 0);
    await clock.advance(1_500);
    assert.equal(get('db').stateKind, 'stopped');
  });
});

describe('stacks: container groups', () => {
  it('starts and stops every container of a group together; the first takes the traffic', async () => {
    const { clock, get, container, provider } = stack({
      web: { container: [{ name: 'web1', listenMs: 100 }, { name: 'side1', listenMs: 5_000 }], idleTimeoutMs: 1_000 },
    });
    const w = settled(get('web').acquire(never()));
    await clock.advance(160);
    assert.ok(w.value, 'readiness is the first container\'s');
    assert.equal(container('side1').running, true);
    assert.deepEqual(w.value.upstream, { kind: 'tcp', host: '10.99.0.1', port: 80 });
    const stopsBefore = provider.stopCalls;
    w.value.release();
    await clock.advance(1_500);
    assert.equal(get('web').stateKind, 'stopped');
    assert.equal(container('web1').running, false);
    assert.equal(container('side1').running, false);
    assert.equal(provider.stopCalls - stopsBefore, 2);
  });

  it('one member exiting takes the group down: connections closed, the rest stopped; the next connection starts all again', async () => {
    const { clock, get, container, provider } = stack({
      web: { container: [{ name: 'web1' }, { name: 'side1' }] },
    });
    const w = settled(get('web').acquire(never()));
    await clock.advance(200);
    const lease = w.value as Lease;
    let revoked = false;
    lease.onRevoke = () => { revoked = true; };
    const event = { kind: 'die' as const, id: container('side1').id, name: 'side1', time: clock.now() };
    provider.kill('side1');
    assert.ok(get('web').matches(event), 'a member\'s events count');
    await get('web').onContainerEvent(event);
    assert.ok(revoked);
    await clock.advance(10);
    assert.equal(get('web').stateKind, 'stopped');
    assert.equal(container('web1').running, false);
    const again = settled(get('web').acquire(never()));
    await clock.advance(200);
    assert.ok(again.value);
    assert.equal(container('side1').running, true);
  });

  it('a member that cannot start fails the start and stops the rest', async () => {
    const { clock, get, container } = stack({
      web: { container: [{ name: 'web1' }, { name: 'side1', startMs: 10, crashAfterMs: 0 }] },
    });
    const w = settled(get('web').acquire(never()));
    await clock.advance(200);
    assert.ok(w.error instanceof PortwakeError, String(w.error));
    assert.match(w.error.message, /container "side1" exited during start/);
    await clock.advance(10);
    assert.equal(container('web1').running, false, 'the started first container is stopped again');
  });
});

describe('stacks: restartPolicy', () => {
  it('manage sets always/unless-stopped to "no" once, on every container of the group; keep leaves it', async () => {
    const { clock, get, container, provider } = stack({
      web: { container: [{ name: 'web1', restartPolicy: 'always' }, { name: 'side1', restartPolicy: 'unless-stopped' }], restartPolicy: 'manage', idleTimeoutMs: 1_000 },
      other: { container: { name: 'o1', restartPolicy: 'always' } },
    });
    const w = settled(get('web').acquire(never()));
    await clock.advance(200);
    assert.equal(container('web1').restartPolicy, 'no');
    assert.equal(container('side1').restartPolicy, 'no');
    assert.equal(provider.restartPolicyCalls, 2);
    (w.value as Lease).release();
    await clock.advance(1_500);
    const again = settled(get('web').ensureReady(never()));
    await clock.advance(200);
    assert.ok(again.done && again.error === undefined, String(again.error));
    assert.equal(provider.restartPolicyCalls, 2, 'once per container');
    const o = settled(get('other').acquire(never()));
    await clock.advance(200);
    assert.ok(o.value);
    assert.equal(container('o1').restartPolicy, 'always');
  });
});
