// The activation state machine against the fake provider and a manual clock: single flight,
// readiness, idle stop, outside events and failures, to the millisecond.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Activation, type ActivationSpec } from '../../src/core/activation/activation.ts';
import type { Lease } from '../../src/core/backend.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { DaemonEvent } from '../../src/core/status.ts';
import { FakeProvider, type FakeContainerOptions } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';

function setup(spec: Partial<ActivationSpec> = {}, container: Partial<FakeContainerOptions> = {}) {
  const clock = new ManualClock();
  const provider = new FakeProvider(clock);
  provider.add({ name: 'app', startMs: 50, listenMs: 200, ...container });
  const events: DaemonEvent[] = [];
  const a = new Activation(
    { name: 'web', container: 'app', port: undefined, upstream: undefined, ready: { kind: 'tcp' }, startTimeoutMs: 60_000, idleTimeoutMs: 10_000, stopTimeoutMs: 10_000, ...spec },
    { provider, probes: provider.probes(), clock, logger: silentLogger, emit: (e) => events.push(e) },
  );
  return { clock, provider, a, events };
}

function settledState<T>(p: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const s: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then((v) => { s.value = v; s.done = true; }, (e: unknown) => { s.error = e; s.done = true; });
  return s;
}

describe('activation', () => {
  it('starts nothing until a connection needs it', async () => {
    const { clock, provider, a } = setup();
    await clock.advance(60_000);
    assert.equal(provider.startCalls, 0);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(a.tryAcquire(), undefined);
  });

  it('holds connections until the app listens, with exactly one start for 250 at once', async () => {
    const { clock, provider, a } = setup();
    const waits = Array.from({ length: 250 }, () => settledState(a.acquire(new AbortController().signal)));
    await clock.advance(240);
    assert.equal(provider.startCalls, 1);
    assert.equal(a.stateKind, 'starting');
    assert.ok(waits.every((w) => !w.done), 'nobody is forwarded before the app listens');
    await clock.advance(20);
    assert.ok(waits.every((w) => w.done && w.value !== undefined), 'all 250 are served once ready');
    assert.equal(provider.startCalls, 1);
    const lease = waits[0]?.value as Lease;
    assert.deepEqual(lease.upstream, { kind: 'tcp', host: '10.99.0.1', port: 80 });
    assert.equal(a.status().openConnections, 250);
  });

  it('readiness is noticed within a few ms of the app listening (no 100 ms polls)', async () => {
    const { clock, a } = setup({}, { startMs: 0, listenMs: 1_000 });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(1_000);
    await clock.advance(6);
    assert.ok(w.done, 'ready at most 6 ms after the app listened');
  });

  it('uses a container someone else already started as it is', async () => {
    const { clock, provider, a } = setup({}, { running: true, listenMs: 0 });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(1);
    assert.ok(w.value);
    assert.equal(provider.startCalls, 1, 'one start request, answered "already running"');
    assert.equal(provider.containers.get('app')?.generation, 1, 'not restarted');
    assert.equal(a.status().lastStart?.startedByUs, false);
  });

  it('stops after idleTimeout with no open connection, and an open one keeps it running', async () => {
    const { clock, provider, a } = setup({ idleTimeoutMs: 10_000 });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(300);
    const lease = w.value as Lease;
    await clock.advance(60_000);
    assert.equal(provider.stopCalls, 0, 'a silent open connection keeps it running');
    assert.equal(a.status().idleDeadline, undefined);
    lease.release();
    lease.release(); // idempotent
    assert.equal(a.status().idleDeadline, clock.now() + 10_000);
    await clock.advance(9_999);
    assert.equal(provider.stopCalls, 0);
    await clock.advance(1);
    assert.equal(provider.stopCalls, 1);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(provider.containers.get('app')?.running, false);
  });

  it('a new connection re-arms nothing while open and disarms the idle timer', async () => {
    const { clock, provider, a } = setup({ idleTimeoutMs: 1_000 });
    (await acquireReady(a, clock)).release();
    await clock.advance(900);
    const l2 = a.tryAcquire();
    assert.ok(l2, 'fast path while ready');
    await clock.advance(5_000);
    assert.equal(provider.stopCalls, 0);
    l2.release();
    await clock.advance(1_000);
    assert.equal(provider.stopCalls, 1);
  });

  it('a connection arriving while stopping is held and served by a fresh start', async () => {
    const { clock, provider, a } = setup({ idleTimeoutMs: 1_000 }, { startMs: 50, listenMs: 100 });
    (await acquireReady(a, clock)).release();
    // Make stop slow: intercept to observe the stopping state.
    const realStop = provider.stop.bind(provider);
    provider.stop = async (c, g, s) => { await new Promise<void>((r) => clock.setTimer(500, r)); return realStop(c, g, s); };
    await clock.advance(1_000);
    assert.equal(a.stateKind, 'stopping');
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(400);
    assert.equal(w.done, false);
    await clock.advance(100 + 50 + 100 + 5);
    assert.ok(w.value, 'served after the stop, by a new start');
    assert.equal(provider.startCalls, 2);
    assert.equal(a.stateKind, 'ready');
  });

  it('a container stopped by someone else closes its connections; the next one starts it again', async () => {
    const { clock, provider, a } = setup();
    const lease = await acquireReady(a, clock);
    provider.kill('app');
    await a.onContainerEvent({ kind: 'die', id: provider.containers.get('app')?.id ?? '', name: 'app', time: clock.now() });
    assert.equal(lease.revoked, true, 'open connections are told to close');
    assert.equal(a.stateKind, 'stopped');
    await acquireReady(a, clock);
    assert.equal(provider.startCalls, 2);
  });

  it('a stale die event does not close live connections', async () => {
    const { clock, provider, a } = setup();
    const lease = await acquireReady(a, clock);
    await a.onContainerEvent({ kind: 'die', id: provider.containers.get('app')?.id ?? '', name: 'app', time: clock.now() - 5_000 });
    assert.equal(lease.revoked, false);
    assert.equal(a.stateKind, 'ready');
  });

  it('the previous run\'s die event arriving during the next start is ignored', async () => {
    const { clock, provider, a } = setup({ idleTimeoutMs: 1_000 }, { startMs: 200, listenMs: 100 });
    (await acquireReady(a, clock)).release();
    await clock.advance(1_000);
    assert.equal(a.stateKind, 'stopped');
    const id = provider.containers.get('app')?.id ?? '';
    const stoppedAt = clock.now();
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(50);
    // Delivered late, while the new start is in flight (before and after the engine confirms it).
    await a.onContainerEvent({ kind: 'die', id, name: 'app', time: stoppedAt });
    await clock.advance(200);
    await a.onContainerEvent({ kind: 'die', id, name: 'app', time: stoppedAt });
    await clock.advance(150);
    assert.ok(w.value, 'the new start was not cancelled by the old exit');
    assert.equal(a.stateKind, 'ready');
  });

  it('no such container: held connections fail promptly with a clear error; the next one tries again', async () => {
    const { clock, provider, a, events } = setup({ container: 'nope' });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(1);
    assert.ok(w.error instanceof PortwakeError);
    assert.equal(w.error.code, 'CONTAINER_NOT_FOUND');
    assert.match(w.error.message, /service "web": container "nope" does not exist/);
    assert.equal(a.status().state, 'failed');
    assert.equal(events.filter((e) => e.type === 'failed').length, 1);
    provider.add({ name: 'nope', listenMs: 0 });
    await acquireReady(a, clock);
    assert.equal(a.status().lastError, undefined);
  });

  it('engine unreachable: fails with PROVIDER_UNREACHABLE', async () => {
    const { clock, provider, a } = setup();
    provider.unreachable = true;
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(1);
    assert.equal((w.error as PortwakeError).code, 'PROVIDER_UNREACHABLE');
  });

  it('a container that exits during start fails its held connections at once', async () => {
    const { clock, provider, a } = setup({}, { listenMs: 30_000, crashAfterMs: 500 });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(550);
    await a.onContainerEvent({ kind: 'die', id: provider.containers.get('app')?.id ?? '', name: 'app', time: clock.now() });
    await clock.settle();
    assert.equal((w.error as PortwakeError).code, 'CONTAINER_EXITED');
    assert.match((w.error as Error).message, /exited during start with code 1/);
  });

  it('without events, an exit during start is still noticed within about a second', async () => {
    const { clock, a } = setup({}, { listenMs: 30_000, crashAfterMs: 500 });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(1_700);
    assert.equal((w.error as PortwakeError).code, 'CONTAINER_EXITED');
  });

  it('readiness timeout fails with the last probe result and stops the container it started', async () => {
    const { clock, provider, a } = setup({ startTimeoutMs: 2_000 }, { listenMs: 1e9 });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(2_100);
    const err = w.error as PortwakeError;
    assert.equal(err.code, 'READY_TIMEOUT');
    assert.match(err.message, /not ready after 2s \(last probe: connection refused/);
    assert.equal(provider.stopCalls, 1);
  });

  it('a client that gives up does not cancel the start for the others', async () => {
    const { clock, a } = setup();
    const gaveUp = new AbortController();
    const w1 = settledState(a.acquire(gaveUp.signal));
    const w2 = settledState(a.acquire(new AbortController().signal));
    await clock.advance(100);
    gaveUp.abort(new Error('client went away'));
    await clock.settle();
    assert.match(String(w1.error), /client went away/);
    await clock.advance(200);
    assert.ok(w2.value);
  });

  it('ready: health waits for the HEALTHCHECK to report healthy', async () => {
    const { clock, a } = setup({ ready: { kind: 'health' } }, { hasHealthcheck: true, listenMs: 1_500 });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(1_400);
    assert.equal(w.done, false);
    await clock.advance(300);
    assert.ok(w.value);
  });

  it('ready: health without a HEALTHCHECK is a clear error, and the container it started is stopped again', async () => {
    const { clock, a, provider } = setup({ ready: { kind: 'health' } });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(100);
    assert.match(String(w.error), /has no HEALTHCHECK \(add one, or use ready: tcp\)/);
    assert.equal(provider.containers.get('app')?.running, false);
  });

  it('ready: delay waits the fixed time after start', async () => {
    const { clock, a } = setup({ ready: { kind: 'delay', ms: 1_000 } }, { startMs: 0 });
    const w = settledState(a.acquire(new AbortController().signal));
    await clock.advance(999);
    assert.equal(w.done, false);
    await clock.advance(2);
    assert.ok(w.value);
  });

  it('control stop drains open connections up to stopTimeout, then stops', async () => {
    const { clock, provider, a } = setup({ stopTimeoutMs: 5_000 });
    const lease = await acquireReady(a, clock);
    const stopping = settledState(a.stop('control'));
    await clock.advance(1_000);
    assert.equal(provider.stopCalls, 0, 'waits for the open connection');
    lease.release();
    await clock.advance(1);
    assert.ok(stopping.done);
    assert.equal(provider.stopCalls, 1);
    assert.equal(a.stateKind, 'stopped');
  });

  it('emits state changes and one activation event with timings', async () => {
    const { clock, a, events } = setup({}, { startMs: 50, listenMs: 200 });
    await acquireReady(a, clock);
    assert.deepEqual(events.filter((e) => e.type === 'state').map((e) => e.type === 'state' && `${e.from}>${e.to}`), ['stopped>starting', 'starting>ready']);
    const act = events.find((e) => e.type === 'activated');
    assert.ok(act?.type === 'activated');
    assert.equal(act.timings.containerStartMs, 50);
    assert.ok(act.timings.readinessMs >= 200 && act.timings.readinessMs <= 206);
  });
});

async function acquireReady(a: Activation, clock: ManualClock): Promise<Lease> {
  const w = settledState(a.acquire(new AbortController().signal));
  for (let i = 0; i < 100 && !w.done; i++) await clock.advance(50);
  if (w.error !== undefined) throw w.error as Error;
  assert.ok(w.value, 'became ready');
  return w.value;
}
