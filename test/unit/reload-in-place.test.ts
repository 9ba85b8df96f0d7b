// What a reload changes in place, on a manual clock and the fake provider: an activation's new
// idle timeout (the armed timer keeps its start), and a frontend's new limits.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Activation, type ActivationSpec } from '../../src/core/activation/activation.ts';
import { IdleTimer } from '../../src/core/idle.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';

const SPEC: ActivationSpec = { name: 'web', container: 'app', port: undefined, upstream: undefined, ready: { kind: 'tcp' }, startTimeoutMs: 60_000, idleTimeoutMs: 10_000, stopTimeoutMs: 10_000 };

describe('IdleTimer.retime', () => {
  it('an armed timer keeps the moment it was armed; a shorter timeout already passed fires at once; undefined disarms', async () => {
    const clock = new ManualClock();
    let fired = 0;
    const idle = new IdleTimer(clock, 10_000, () => fired++);
    idle.arm();
    const armedAt = clock.now();
    await clock.advance(4_000);
    idle.retime(6_000);
    assert.equal(idle.deadline, armedAt + 6_000);
    await clock.advance(1_999);
    assert.equal(fired, 0);
    await clock.advance(1);
    assert.equal(fired, 1);

    idle.arm();
    await clock.advance(5_000);
    idle.retime(1_000);
    await clock.advance(0);
    assert.equal(fired, 2, 'the new timeout had already passed');

    idle.arm();
    idle.retime(undefined);
    await clock.advance(60_000);
    assert.equal(fired, 2);
    assert.equal(idle.deadline, undefined);
    idle.retime(3_000);
    assert.equal(idle.deadline, undefined, 'a disarmed timer stays disarmed');
  });
});

describe('Activation.update', () => {
  it('a ready service keeps its container and open connections; the new idle timeout applies', async () => {
    const clock = new ManualClock();
    const provider = new FakeProvider(clock);
    provider.add({ name: 'app', startMs: 50, listenMs: 100 });
    const a = new Activation({ ...SPEC, idleTimeoutMs: undefined }, { provider, probes: provider.probes(), clock, logger: silentLogger, emit: () => undefined });
    const lease = a.acquire(new AbortController().signal);
    await clock.advance(200);
    const l = await lease;
    assert.equal(a.stateKind, 'ready');
    a.update({ ...SPEC, idleTimeoutMs: 1_000, stopTimeoutMs: 2_000 });
    assert.equal(a.status().idleDeadline, undefined, 'not idle while a connection is open');
    assert.equal(l.revoked, false);
    assert.equal(provider.startCalls, 1);
    l.release();
    await clock.advance(999);
    assert.equal(a.stateKind, 'ready');
    await clock.advance(1);
    assert.ok(['stopping', 'stopped'].includes(a.stateKind), 'stopped after the new idle timeout');
  });

  it('a ready, idle service with no idle timeout before gets its timer armed by the update', async () => {
    const clock = new ManualClock();
    const provider = new FakeProvider(clock);
    provider.add({ name: 'app', startMs: 50, listenMs: 100 });
    const a = new Activation({ ...SPEC, idleTimeoutMs: undefined }, { provider, probes: provider.probes(), clock, logger: silentLogger, emit: () => undefined });
    const ready = a.ensureReady(new AbortController().signal);
    await clock.advance(200);
    await ready;
    assert.equal(a.status().idleDeadline, undefined);
    a.update({ ...SPEC, idleTimeoutMs: 500 });
    assert.equal(a.status().idleDeadline, clock.now() + 500);
    await clock.advance(500);
    assert.ok(['stopping', 'stopped'].includes(a.stateKind));
  });
});
