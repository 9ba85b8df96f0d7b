// `idleOn: traffic` in the activation, against the fake provider and a manual clock: open but
// silent connections do not keep the service up, bytes do, and the silent ones are closed in
// order ('idle') before the stop.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Activation, type ActivationSpec } from '../../src/core/activation/activation.ts';
import type { Lease, RevokeHow } from '../../src/core/backend.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';

function setup(spec: Partial<ActivationSpec> = {}) {
  const clock = new ManualClock();
  const provider = new FakeProvider(clock);
  provider.add({ name: 'app', startMs: 50, listenMs: 200 });
  const a = new Activation(
    { name: 'web', container: 'app', port: undefined, upstream: undefined, ready: { kind: 'tcp' }, startTimeoutMs: 60_000, idleTimeoutMs: 10_000, idleOn: 'traffic', stopTimeoutMs: 10_000, ...spec },
    { provider, probes: provider.probes(), clock, logger: silentLogger, emit: () => undefined },
  );
  return { clock, provider, a };
}

async function acquireReady(a: Activation, clock: ManualClock): Promise<Lease> {
  let lease: Lease | undefined;
  void a.acquire(new AbortController().signal).then((l) => { lease = l; });
  await clock.advance(300);
  assert.ok(lease, 'ready after 300 ms');
  return lease;
}

describe('idleOn: traffic', () => {
  it('stops after idleTimeout without bytes although connections stay open, closing them in order first', async () => {
    const { clock, provider, a } = setup();
    const lease = await acquireReady(a, clock);
    const revokes: RevokeHow[] = [];
    lease.onRevoke = (how) => {
      revokes.push(how);
      lease.release();
    };
    assert.equal(a.status().idleOn, 'traffic');
    assert.ok(a.status().idleDeadline !== undefined, 'the traffic clock runs while a connection is open');
    // Bytes every 5 s keep it up for a minute.
    for (let i = 0; i < 12; i++) {
      lease.bytesIn += 100;
      lease.bytesOut += 1_000;
      await clock.advance(5_000);
    }
    assert.equal(provider.stopCalls, 0, 'moving bytes keep the service running');
    assert.deepEqual(revokes, []);
    // Then silence: stopped within the timeout plus one check period (a tenth of it).
    await clock.advance(10_000 + 1_000);
    assert.deepEqual(revokes, ['idle'], 'the silent connection is closed in order, not reset');
    assert.equal(provider.stopCalls, 1);
    assert.equal(a.stateKind, 'stopped');
    assert.equal(a.status().openConnections, 0);
  });

  it('is not stopped within idleTimeout of the last byte', async () => {
    const { clock, provider, a } = setup();
    const lease = await acquireReady(a, clock);
    await clock.advance(7_500);
    lease.bytesOut += 1; // at 7.5 s: the next check (at 8 s) sees it
    await clock.advance(10_000);
    assert.equal(provider.stopCalls, 0, 'the last byte moved less than idleTimeout ago');
    await clock.advance(1_000);
    assert.equal(provider.stopCalls, 1);
  });

  it('counts opening and closing a connection as traffic, and stops with none open as before', async () => {
    const { clock, provider, a } = setup();
    const lease = await acquireReady(a, clock);
    await clock.advance(9_000);
    lease.release();
    await clock.advance(9_000);
    assert.equal(provider.stopCalls, 0, 'the close 9 s ago was activity');
    await clock.advance(2_000);
    assert.equal(provider.stopCalls, 1);
  });

  it("idleOn: connections (the default) keeps a service with a silent open connection running", async () => {
    const { clock, provider, a } = setup({ idleOn: undefined });
    const lease = await acquireReady(a, clock);
    await clock.advance(60_000);
    assert.equal(provider.stopCalls, 0);
    assert.equal(a.status().idleOn, 'connections');
    lease.release();
    await clock.advance(10_000);
    assert.equal(provider.stopCalls, 1);
  });
});
