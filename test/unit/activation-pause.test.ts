// idleAction: pause against the fake provider and a manual clock: ready → pausing → paused →
// unpausing → ready, stopAfter, outside pause/unpause/stop, and the races (a connection while
// pausing, a stop while unpausing, a container stopped while paused without an event).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Activation, type ActivationSpec } from '../../src/core/activation/activation.ts';
import type { Lease } from '../../src/core/backend.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { Provider } from '../../src/core/provider.ts';
import type { DaemonEvent } from '../../src/core/status.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';

const IDLE_MS = 10_000;

function setup(spec: Partial<ActivationSpec> = {}, o: { pauseMs?: number; running?: boolean; provider?: (p: FakeProvider) => Provider } = {}) {
  const clock = new ManualClock();
  const fake = new FakeProvider(clock);
  fake.pauseMs = o.pauseMs ?? 0;
  fake.add({ name: 'app', startMs: 50, listenMs: 200, running: o.running ?? false });
  const events: DaemonEvent[] = [];
  const provider = o.provider?.(fake) ?? fake;
  const a = new Activation(
    {
      name: 'web', container: 'app', port: undefined, upstream: undefined, ready: { kind: 'tcp' },
      startTimeoutMs: 60_000, idleTimeoutMs: IDLE_MS, stopTimeoutMs: 10_000, idleAction: 'pause', ...spec,
    },
    { provider, probes: fake.probes(), clock, logger: silentLogger, emit: (e) => events.push(e) },
  );
  const states = (): string[] => events.flatMap((e) => (e.type === 'state' ? [e.to] : []));
  const event = (kind: 'pause' | 'unpause' | 'die' | 'stop') => a.onContainerEvent({ kind, id: fake.containers.get('app')?.id ?? '', name: 'app', time: clock.now() });
  return { clock, fake, a, events, states, event, app: () => fake.containers.get('app') ?? assert.fail('no app') };
}

function settled<T>(p: Promise<T>): { value?: T; error?: unknown; done: boolean } {
  const s: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then((v) => { s.value = v; s.done = true; }, (e: unknown) => { s.error = e; s.done = true; });
  return s;
}

async function acquireReady(a: Activation, clock: ManualClock): Promise<Lease> {
  const w = settled(a.acquire(new AbortController().signal));
  for (let i = 0; i < 100 && !w.done; i++) await clock.advance(50);
  if (w.error !== undefined) throw w.error as Error;
  assert.ok(w.value, 'became ready');
  return w.value;
}

/** Started, used once, then idle until paused. */
async function pausedSetup(spec: Partial<ActivationSpec> = {}, o: Parameters<typeof setup>[1] = {}) {
  const s = setup(spec, o);
  (await acquireReady(s.a, s.clock)).release();
  await s.clock.advance(IDLE_MS + (o.pauseMs ?? 0));
  assert.equal(s.a.stateKind, 'paused');
  return s;
}

describe('activation: idleAction pause', () => {
  it('pauses an idle container instead of stopping it; the next connection unpauses it, without a start', async () => {
    const { clock, fake, a, states, app } = setup();
    const first = await acquireReady(a, clock);
    first.release();
    await clock.advance(IDLE_MS - 1);
    assert.equal(a.stateKind, 'ready');
    await clock.advance(1);
    assert.equal(a.stateKind, 'paused');
    assert.equal(fake.pauseCalls, 1);
    assert.equal(fake.stopCalls, 0, 'not stopped');
    assert.equal(app().paused, true);
    assert.equal(a.status().state, 'paused');
    assert.equal(a.status().idleAction, 'pause');
    assert.equal(a.status().idleDeadline, undefined, 'no stopAfter: stays paused');
    assert.equal(a.tryAcquire(), undefined, 'a paused service has no fast path');

    const w = settled(a.acquire(new AbortController().signal));
    await clock.advance(0);
    assert.ok(w.value, 'served by the unpause');
    assert.deepEqual(w.value.upstream, first.upstream, 'same run, same address');
    assert.equal(fake.unpauseCalls, 1);
    assert.equal(fake.startCalls, 1, 'no second start');
    assert.equal(app().paused, false);
    assert.equal(a.status().lastStart?.unpaused, true);
    assert.deepEqual(states(), ['starting', 'ready', 'pausing', 'paused', 'unpausing', 'ready']);
    w.value.release();
    await clock.advance(IDLE_MS);
    assert.equal(a.stateKind, 'paused', 'idle again: paused again');
    assert.equal(fake.pauseCalls, 2);
  });

  it('stopAfter stops a container paused that long; the next connection starts it', async () => {
    const { clock, fake, a, app } = await pausedSetup({ stopAfterMs: 60_000 });
    assert.equal(a.status().idleDeadline, clock.now() + 60_000, 'the status shows when it will be stopped');
    await clock.advance(59_999);
    assert.equal(a.stateKind, 'paused');
    await clock.advance(1);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(fake.stopCalls, 1);
    assert.equal(app().running, false);
    await acquireReady(a, clock);
    assert.equal(fake.startCalls, 2);
    assert.equal(fake.unpauseCalls, 0);
  });

  it('a wake disarms stopAfter: the next pause counts it again from its start', async () => {
    const { clock, fake, a } = await pausedSetup({ stopAfterMs: 60_000 });
    await clock.advance(50_000);
    (await acquireReady(a, clock)).release();
    await clock.advance(IDLE_MS + 50_000);
    assert.equal(a.stateKind, 'paused', 'the first pause\'s 60 s do not carry over');
    assert.equal(fake.stopCalls, 0);
  });

  it('a connection arriving while pausing waits for the pause, then is served by an unpause', async () => {
    const { clock, fake, a, states } = setup({}, { pauseMs: 100 });
    (await acquireReady(a, clock)).release();
    await clock.advance(IDLE_MS + 50);
    assert.equal(a.stateKind, 'pausing');
    const w = settled(a.acquire(new AbortController().signal));
    await clock.advance(49);
    assert.equal(w.done, false, 'held while the pause is in flight');
    await clock.advance(1 + 100);
    assert.ok(w.value, 'served');
    assert.equal(a.stateKind, 'ready');
    assert.equal(fake.pauseCalls, 1);
    assert.equal(fake.unpauseCalls, 1);
    assert.equal(fake.startCalls, 1);
    assert.deepEqual(states().slice(2), ['pausing', 'paused', 'unpausing', 'ready']);
  });

  it('a stop while unpausing wins: the unpause is answered, then the container stopped; the waiters are closed', async () => {
    const { clock, fake, a, app } = await pausedSetup({}, { pauseMs: 100 });
    const w = settled(a.acquire(new AbortController().signal));
    await clock.advance(20);
    assert.equal(a.stateKind, 'unpausing');
    const stopped = settled(a.stop('control'));
    await clock.advance(100);
    assert.ok(stopped.done);
    assert.ok(w.error instanceof PortwakeError && w.error.code === 'ABORTED', `the waiter fails: ${String(w.error)}`);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(app().running, false);
    assert.equal(fake.stopCalls, 1);
  });

  it('a stop while pausing waits for the pause, then stops the paused container', async () => {
    const { clock, fake, a, app } = setup({}, { pauseMs: 100 });
    (await acquireReady(a, clock)).release();
    await clock.advance(IDLE_MS + 50);
    assert.equal(a.stateKind, 'pausing');
    const stopped = settled(a.stop('control'));
    await clock.advance(100);
    assert.ok(stopped.done);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(app().running, false);
    assert.equal(fake.stopCalls, 1);
  });

  it('a control stop of a paused container stops it (no unpause needed)', async () => {
    const { clock, fake, a, app } = await pausedSetup();
    await a.stop('control');
    await clock.settle();
    assert.equal(a.stateKind, 'stopped');
    assert.equal(app().running, false);
    assert.equal(fake.unpauseCalls, 0);
  });

  it('a paused container is owned for --stop-on-exit when portwake started it', async () => {
    const { a } = await pausedSetup();
    assert.equal(a.ownsRunningContainer, true);
  });

  it('an outside unpause makes it ready again, and idle it is paused again', async () => {
    const { clock, fake, a, event } = await pausedSetup({ stopAfterMs: 60_000 });
    fake.pauseOutside('app', false);
    await event('unpause');
    assert.equal(a.stateKind, 'ready');
    assert.ok(a.tryAcquire()?.release() === undefined, 'the fast path serves again');
    await clock.advance(IDLE_MS);
    assert.equal(a.stateKind, 'paused');
    assert.equal(fake.unpauseCalls, 0);
    assert.equal(fake.stopCalls, 0, 'the stopAfter timer of the first pause was disarmed');
  });

  it('an outside pause of a ready container is adopted; the next connection unpauses it', async () => {
    const { clock, fake, a, event } = setup({ idleAction: undefined });
    (await acquireReady(a, clock)).release();
    fake.pauseOutside('app');
    await event('pause');
    assert.equal(a.stateKind, 'paused');
    await clock.advance(IDLE_MS * 2);
    assert.equal(fake.stopCalls, 0, 'no idle stop while paused (no stopAfter)');
    await acquireReady(a, clock);
    assert.equal(fake.unpauseCalls, 1);
    assert.equal(fake.startCalls, 1);
  });

  it('its own pause and unpause events change nothing (they agree with the state)', async () => {
    const { clock, fake, a, event } = await pausedSetup();
    const inspects = fake.inspectCalls;
    await event('pause');
    assert.equal(fake.inspectCalls, inspects, 'no inspect');
    (await acquireReady(a, clock)).release();
    await event('unpause');
    assert.equal(fake.inspectCalls, inspects);
    assert.equal(a.stateKind, 'ready');
  });

  it('an outside stop while paused: stopped, and the next connection starts it normally', async () => {
    const { clock, fake, a, event } = await pausedSetup();
    fake.kill('app');
    await event('die');
    assert.equal(a.stateKind, 'stopped');
    await acquireReady(a, clock);
    assert.equal(fake.startCalls, 2);
    assert.equal(fake.unpauseCalls, 0);
  });

  it('stopped while paused and the event missed: the unpause finds it not paused and a start follows', async () => {
    const { clock, fake, a, states } = await pausedSetup();
    fake.kill('app');
    const lease = await acquireReady(a, clock);
    assert.ok(lease);
    assert.equal(fake.unpauseCalls, 1);
    assert.equal(fake.startCalls, 2);
    assert.deepEqual(states().slice(-3), ['unpausing', 'starting', 'ready']);
  });

  it('a start that finds the container paused (portwake restarted) unpauses it and uses it as found', async () => {
    const { clock, fake, a } = setup({}, { running: true });
    fake.pauseOutside('app');
    await acquireReady(a, clock);
    assert.equal(fake.unpauseCalls, 1);
    assert.equal(fake.containers.get('app')?.paused, false);
    assert.equal(a.status().lastStart?.startedByUs, false);
    assert.equal(a.ownsRunningContainer, false);
  });

  it('a pause that fails (the container stopped meanwhile) stops it instead', async () => {
    const { clock, fake, a, app } = setup({}, { pauseMs: 100 });
    (await acquireReady(a, clock)).release();
    await clock.advance(IDLE_MS + 50);
    fake.kill('app');
    await clock.advance(100);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(app().running, false);
    assert.equal(fake.stopCalls, 1);
  });

  it('a hung engine: the pause gives up at its deadline and the stop that follows ends stopped', async () => {
    const { clock, fake, a } = setup();
    (await acquireReady(a, clock)).release();
    fake.wedged = true;
    await clock.advance(IDLE_MS);
    assert.equal(a.stateKind, 'pausing');
    await clock.advance(30_000 + 10_000 + 10_000);
    assert.equal(a.stateKind, 'stopped');
  });

  it('a hung engine during the unpause: the waiters fail at startTimeout with its error; once it answers, the next connection is served', async () => {
    const { clock, fake, a, app } = await pausedSetup({ startTimeoutMs: 5_000 });
    fake.wedged = true;
    const w = settled(a.acquire(new AbortController().signal));
    await clock.advance(4_999);
    assert.equal(w.done, false);
    await clock.advance(1);
    assert.ok(w.error instanceof PortwakeError && w.error.code === 'PROVIDER_TIMEOUT', `fails with the engine timeout: ${String(w.error)}`);
    assert.equal(a.stateKind, 'failed');
    assert.equal(fake.startCalls, 1, 'no start tried against the hung engine');
    fake.wedged = false;
    await acquireReady(a, clock);
    assert.equal(app().paused, false, 'the start found it paused and unpaused it');
    assert.equal(fake.startCalls, 2);
  });

  it('on a provider that cannot pause, idle containers are stopped', async () => {
    const { clock, fake, a } = setup({}, {
      provider: (p) => ({ endpoint: 'nopause://', inspect: (c, s) => p.inspect(c, s), start: (c, s) => p.start(c, s), stop: (c, g, s) => p.stop(c, g, s), events: (s) => p.events(s), ping: (s) => p.ping(s) }),
    });
    (await acquireReady(a, clock)).release();
    await clock.advance(IDLE_MS);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(fake.pauseCalls, 0);
    assert.equal(a.status().idleAction, 'stop');
  });

  it('a reload to idleAction: stop stops a paused container; a new stopAfter applies to the pause in course', async () => {
    const s1 = await pausedSetup({ stopAfterMs: 60_000 });
    s1.a.update({ ...s1.a.spec, stopAfterMs: 30_000 });
    await s1.clock.advance(30_000);
    assert.equal(s1.a.stateKind, 'stopped');
    const s2 = await pausedSetup();
    s2.a.update({ ...s2.a.spec, idleAction: 'stop' });
    await s2.clock.settle();
    assert.equal(s2.a.stateKind, 'stopped');
    assert.equal(s2.fake.stopCalls, 1);
  });

  it('idleOn: traffic closes the silent connections, then pauses', async () => {
    const { clock, a, fake } = setup({ idleOn: 'traffic' });
    const lease = await acquireReady(a, clock);
    const how: string[] = [];
    lease.onRevoke = (h) => how.push(h);
    await clock.advance(IDLE_MS + 1_000);
    assert.deepEqual(how, ['idle']);
    assert.equal(a.stateKind, 'paused');
    assert.equal(fake.stopCalls, 0);
  });
});
