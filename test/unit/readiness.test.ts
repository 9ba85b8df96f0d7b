// waitReady's probe schedule against a manual clock: when a probe runs, and whether a timer was
// needed before it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Endpoint, Provider } from '../../src/core/provider.ts';
import { IMMEDIATE_TCP_MS, IMMEDIATE_TCP_PROBES, waitReady, type Probes, type ReadySpec } from '../../src/core/readiness.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';

const TARGET: Endpoint = { kind: 'tcp', host: '10.99.0.1', port: 80 };

/** Probes that fail until the `readyAt`-th call, recording the clock at every call; each takes `costMs` of clock time. */
function countingProbes(clock: ManualClock, readyAt: number, costMs = 0): { probes: Probes; calls: number[] } {
  const calls: number[] = [];
  const answer = async () => {
    calls.push(clock.now());
    clock.creep(costMs);
    return calls.length >= readyAt ? { ok: true as const } : { ok: false as const, detail: 'ECONNREFUSED' };
  };
  return { probes: { tcp: answer, http: answer }, calls };
}

function wait(clock: ManualClock, probes: Probes, spec: ReadySpec, direct: boolean): { done: () => boolean } {
  const provider: Provider = new FakeProvider(clock);
  let done = false;
  void waitReady({ spec, container: 'app', target: TARGET, direct, provider, probes, clock, timeoutMs: 60_000, signal: new AbortController().signal }).then(() => { done = true; });
  return { done: () => done };
}

test('a refused TCP probe of the app itself is retried at once: an app that listens between two probes is found without a timer', async () => {
  const clock = new ManualClock();
  const { probes, calls } = countingProbes(clock, 40);
  const w = wait(clock, probes, { kind: 'tcp' }, true);
  await clock.settle(200);
  assert.ok(w.done(), `ready after ${calls.length} probes without the clock moving`);
  assert.equal(calls.length, 40);
  assert.ok(calls.every((t) => t === calls[0]), 'no probe waited for a timer');
});

test('after the immediate probes, the backoff (2, 3, 5 ms) takes over', async () => {
  const clock = new ManualClock();
  const t0 = clock.now();
  const { probes, calls } = countingProbes(clock, IMMEDIATE_TCP_PROBES + 4);
  const w = wait(clock, probes, { kind: 'tcp' }, true);
  await clock.settle(200);
  assert.equal(calls.length, IMMEDIATE_TCP_PROBES + 1, 'the first probe and its immediate retries');
  assert.ok(!w.done());
  await clock.advance(2 + 3);
  assert.deepEqual(calls.slice(IMMEDIATE_TCP_PROBES + 1).map((t) => t - t0), [2, 5]);
  assert.ok(!w.done());
  await clock.advance(5);
  assert.ok(w.done());
});

test(`the immediate retries last ${IMMEDIATE_TCP_MS} ms of clock time, then the backoff takes over`, async () => {
  const clock = new ManualClock();
  const t0 = clock.now();
  // Each probe takes 0.5 ms: 20 of them fill the immediate phase.
  const { probes, calls } = countingProbes(clock, 1_000, 0.5);
  const w = wait(clock, probes, { kind: 'tcp' }, true);
  await clock.settle(200);
  assert.equal(calls.length, IMMEDIATE_TCP_MS / 0.5, 'probes until the immediate phase had lasted its time');
  assert.equal(calls.at(-1), t0 + IMMEDIATE_TCP_MS - 0.5);
  await clock.advance(2);
  assert.equal(calls.length, IMMEDIATE_TCP_MS / 0.5 + 1, 'then one probe after a 2 ms sleep');
  assert.ok(!w.done());
});

for (const [what, spec, direct] of [
  ['an HTTP probe (it would load a starting app)', { kind: 'http', path: '/', statusMin: 200, statusMax: 399, host: undefined }, true],
  ['a TCP probe through a proxy in front of the app', { kind: 'tcp' }, false],
] as const) {
  test(`${what} is not retried at once: it backs off from the first failure`, async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    const { probes, calls } = countingProbes(clock, 3);
    const w = wait(clock, probes, spec, direct);
    await clock.settle(50);
    assert.equal(calls.length, 1);
    await clock.advance(2 + 3);
    assert.deepEqual(calls.map((t) => t - t0), [0, 2, 5]);
    assert.ok(w.done());
  });
}
