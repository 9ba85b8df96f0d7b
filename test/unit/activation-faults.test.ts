// The activation state machine under engine faults, against the fake provider and a manual clock:
// a hung engine (deadlines on start, stop and inspect), a stop during a start, a failure after
// portwake's own start, the resync single flight, the events-reconnect race, and the start limit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Activation, STOP_MARGIN_MS, type ActivationSpec } from '../../src/core/activation/activation.ts';
import type { Lease } from '../../src/core/backend.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import type { DaemonEvent } from '../../src/core/status.ts';
import { FakeProvider, type FakeContainerOptions } from '../../src/providers/fake/provider.ts';
import { recordingLogger } from '../support/control-harness.ts';
import { ManualClock } from '../support/manual-clock.ts';

function setup(spec: Partial<ActivationSpec> = {}, container: Partial<FakeContainerOptions> = {}) {
  const clock = new ManualClock();
  const provider = new FakeProvider(clock);
  provider.add({ name: 'app', startMs: 50, listenMs: 200, ...container });
  const events: DaemonEvent[] = [];
  const logger = recordingLogger();
  const a = new Activation(
    { name: 'web', container: 'app', port: undefined, upstream: undefined, ready: { kind: 'tcp' }, startTimeoutMs: 5_000, idleTimeoutMs: 10_000, stopTimeoutMs: 2_000, ...spec },
    { provider, probes: provider.probes(), clock, logger, emit: (e) => events.push(e) },
  );
  return { clock, provider, a, events, lines: logger.lines };
}

function settled<T>(p: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const s: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then((v) => { s.value = v; s.done = true; }, (e: unknown) => { s.error = e; s.done = true; });
  return s;
}

const waiter = (a: Activation) => settled(a.acquire(new AbortController().signal));

async function acquireReady(a: Activation, clock: ManualClock): Promise<Lease> {
  const w = waiter(a);
  for (let i = 0; i < 100 && !w.done; i++) await clock.advance(50);
  if (w.error !== undefined) throw w.error as Error;
  assert.ok(w.value, 'became ready');
  return w.value;
}

describe('activation under engine faults', () => {
  it('a hung engine: held connections fail when startTimeout passes, with one log line saying the engine did not answer', async () => {
    const { clock, provider, a, lines } = setup({ startTimeoutMs: 5_000 });
    provider.wedged = true;
    const waits = Array.from({ length: 20 }, () => waiter(a));
    await clock.advance(4_999);
    assert.ok(waits.every((w) => !w.done), 'held until startTimeout');
    await clock.advance(1);
    assert.ok(waits.every((w) => w.done && w.error instanceof PortwakeError));
    const err = waits[0]?.error as PortwakeError;
    assert.equal(err.code, 'PROVIDER_TIMEOUT');
    assert.match(err.message, /^service "web": docker start: engine did not answer within 5 s \(fake:\/\/\)/);
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 1, 'one error line for all 20');
    assert.match(errors[0]?.msg ?? '', /service "web".*engine did not answer/);
    assert.equal(a.stateKind, 'failed');
  });

  it('a hung engine does not keep the service in stopping: the stop gives up after stopTimeout plus a margin', async () => {
    const { clock, provider, a, lines } = setup({ stopTimeoutMs: 2_000 });
    (await acquireReady(a, clock)).release();
    provider.wedged = true;
    const stopping = settled(a.stop('control'));
    const held = waiter(a); // waits on the stop, then starts again (hung as well)
    await clock.advance(1);
    assert.equal(a.stateKind, 'stopping');
    await clock.advance(2_000 + STOP_MARGIN_MS);
    assert.ok(stopping.done, 'the stop ended');
    assert.match(lines.find((l) => l.level === 'warn')?.msg ?? '', /stopping container "app" failed: docker stop: engine did not answer within 12 s/);
    assert.equal(held.done, false, 'the held connection waits for the next start');
    await clock.advance(5_000);
    assert.equal((held.error as PortwakeError).code, 'PROVIDER_TIMEOUT', 'and fails when startTimeout passes');
  });

  it('a stop during a start wins: the container ends stopped, the service stopped, held connections closed', async () => {
    const { clock, provider, a, events } = setup({}, { startMs: 100, listenMs: 5_000 });
    const held = waiter(a);
    await clock.advance(300); // started, waiting for the app to listen
    assert.equal(provider.containers.get('app')?.running, true);
    const stopped = settled(a.stop('control'));
    await clock.advance(10);
    assert.ok(stopped.done);
    assert.equal((held.error as PortwakeError).code, 'ABORTED');
    assert.equal(a.stateKind, 'stopped');
    assert.equal(provider.containers.get('app')?.running, false, 'the container does not run on');
    assert.equal(events.filter((e) => e.type === 'failed').length, 0, 'a stop is no failure');
  });

  it('a stop while the start request is in flight waits for its answer, then stops the container', async () => {
    const { clock, provider, a } = setup({}, { startMs: 500, listenMs: 0 });
    const held = waiter(a);
    await clock.advance(100);
    const stopped = settled(a.stop('shutdown'));
    assert.equal(a.ownsRunningContainer, true, 'a start in flight is portwake\'s own (--stop-on-exit)');
    await clock.advance(450);
    assert.ok(stopped.done && held.done);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(provider.containers.get('app')?.running, false);
    assert.equal(provider.stopCalls, 1);
  });

  it('a failure after portwake\'s own start stops the container again (upstream unresolved)', async () => {
    const { clock, provider, a } = setup({}, { exposedPorts: [] });
    const held = waiter(a);
    await clock.advance(100);
    assert.equal((held.error as PortwakeError).code, 'UPSTREAM_UNRESOLVED');
    assert.equal(provider.containers.get('app')?.running, false);
    assert.equal(a.stateKind, 'failed');
  });

  it('a container found running is left running when its activation fails', async () => {
    const { clock, provider, a } = setup({}, { exposedPorts: [], running: true });
    const held = waiter(a);
    await clock.advance(100);
    assert.equal((held.error as PortwakeError).code, 'UPSTREAM_UNRESOLVED');
    assert.equal(provider.containers.get('app')?.running, true);
    assert.equal(provider.stopCalls, 0);
  });

  it('1,000 refused upstreams make at most two inspections (single flight)', async () => {
    const { clock, provider, a } = setup();
    const lease = await acquireReady(a, clock);
    provider.kill('app');
    const before = provider.inspectCalls;
    await Promise.all(Array.from({ length: 1_000 }, () => a.upstreamFailed(lease.upstream, new Error('connect ECONNREFUSED'))));
    assert.ok(provider.inspectCalls - before <= 2, `${provider.inspectCalls - before} inspections`);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(lease.revoked, true);
  });

  it('a resync (events reconnected) before the start request was answered does not abort the start', async () => {
    const { clock, a } = setup({}, { startMs: 300, listenMs: 100 });
    const held = waiter(a);
    await clock.advance(100);
    await a.resync('events stream reconnected'); // inspects a container not yet started
    await clock.advance(500);
    assert.ok(held.value, 'the start went on');
    assert.equal(a.stateKind, 'ready');
  });

  it('a crash-looping container: after 5 failed starts connections are refused at once, for a growing back-off', async () => {
    const { clock, provider, a, lines, events } = setup({ startLimitBurst: 5, startLimitIntervalMs: 10_000, startBackoffMaxMs: 25_000 }, { startMs: 10, crashAfterMs: 0, listenMs: 1e9 });
    const attempt = async (): Promise<PortwakeError> => {
      const w = waiter(a);
      for (let i = 0; i < 200 && !w.done; i++) await clock.advance(20);
      assert.ok(w.error instanceof PortwakeError, 'refused');
      a.refused(w.error.code === 'START_LIMITED' ? 'backing_off' : 'start_failed'); // as the frontend reports it
      return w.error;
    };
    for (let i = 0; i < 5; i++) assert.equal((await attempt()).code, 'CONTAINER_EXITED');
    assert.equal(provider.startCalls, 5);
    const until = a.status().backoffUntil;
    assert.ok(until !== undefined && until >= clock.now() + 9_000, 'backing off for the interval');
    for (let i = 0; i < 50; i++) {
      const err = await attempt();
      assert.equal(err.code, 'START_LIMITED');
      assert.match(err.message, /^service "web": not starting container "app": its starts keep failing \(last: container "app" exited during start/);
    }
    assert.equal(provider.startCalls, 5, 'nothing started during the back-off');
    assert.equal(a.status().backoffRefused, 50);
    assert.equal(lines.filter((l) => /refusing connections without a start until/.test(l.msg)).length, 1, 'logged once per back-off');
    assert.equal(lines.filter((l) => /backing_off/.test(l.msg)).length, 0, 'the refusals are not logged one by one');
    assert.equal(events.filter((e) => e.type === 'refused' && e.reason === 'backing_off').length, 50);
    // The back-off ends: one start is tried; it fails, and the next back-off is twice as long.
    await clock.advance(until - clock.now());
    assert.equal((await attempt()).code, 'CONTAINER_EXITED');
    assert.ok(lines.some((l) => /back-off over \(50 connection\(s\) refused during it\); trying a start/.test(l.msg)));
    assert.equal(provider.startCalls, 6);
    const next = a.status().backoffUntil ?? 0;
    assert.ok(next - clock.now() >= 19_000 && next - clock.now() <= 20_000, `second back-off ${next - clock.now()} ms`);
    await clock.advance(next - clock.now());
    await attempt();
    const third = (a.status().backoffUntil ?? 0) - clock.now();
    assert.ok(third > 24_000 && third <= 25_000, `capped at startBackoffMax: ${third} ms`);
  });

  it('a manual start clears the back-off', async () => {
    const { clock, provider, a } = setup({ startLimitBurst: 2 }, { startMs: 10, crashAfterMs: 0, listenMs: 1e9 });
    for (let i = 0; i < 2; i++) {
      const w = waiter(a);
      await clock.advance(1_500);
      assert.ok(w.done);
    }
    assert.notEqual(a.status().backoffUntil, undefined);
    const c = provider.containers.get('app');
    if (c !== undefined) c.crashAfterMs = undefined;
    if (c !== undefined) c.listenMs = 0;
    const started = settled(a.ensureReady(new AbortController().signal));
    await clock.advance(100);
    assert.ok(started.done && started.error === undefined, String(started.error));
    assert.equal(a.stateKind, 'ready');
    assert.equal(a.status().backoffUntil, undefined);
  });

  it('startLimitBurst: 0 turns the start limit off', async () => {
    const { clock, provider, a } = setup({ startLimitBurst: 0 }, { startMs: 10, crashAfterMs: 0, listenMs: 1e9 });
    for (let i = 0; i < 20; i++) {
      const w = waiter(a);
      await clock.advance(1_500);
      assert.equal((w.error as PortwakeError).code, 'CONTAINER_EXITED');
    }
    assert.equal(provider.startCalls, 20);
  });
});
