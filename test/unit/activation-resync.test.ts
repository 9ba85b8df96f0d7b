// resync.ts on its own: which events call for an inspection, the single flight of inspections,
// what an inspection finds (fake provider, manual clock), and the verdict the activation adopts.
// The activation's adoption of each verdict is covered in activation-faults, -pause and -stacks.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspectRun, needsResync, resyncVerdict, SingleFlight, type RunTruth } from '../../src/core/activation/resync.ts';
import type { ActivationSpec } from '../../src/core/activation/types.ts';
import { ProviderUnreachableError } from '../../src/core/errors.ts';
import type { ContainerEvent, ContainerEventKind } from '../../src/core/provider.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';

const event = (kind: ContainerEventKind, time = 1_000): ContainerEvent => ({ kind, id: 'x', name: 'app', time });

describe('needsResync', () => {
  it('an exit counts only from the current run on, once the run is confirmed', () => {
    assert.equal(needsResync(event('die', 999), 'ready', 1_000), false, 'the previous run');
    assert.equal(needsResync(event('die', 1_000), 'ready', 1_000), true);
    assert.equal(needsResync(event('stop', 1_500), 'paused', 1_000), true);
    assert.equal(needsResync(event('die', 1_500), 'starting', undefined), false, 'run not confirmed yet');
  });

  it('a pause or unpause only when it disagrees with the state; a destroy always; others never', () => {
    assert.equal(needsResync(event('pause'), 'ready', 1), true);
    assert.equal(needsResync(event('pause'), 'pausing', 1), false);
    assert.equal(needsResync(event('unpause'), 'paused', 1), true);
    assert.equal(needsResync(event('unpause'), 'unpausing', 1), false);
    assert.equal(needsResync(event('destroy'), 'stopped', undefined), true);
    for (const kind of ['start', 'kill', 'health'] as const) assert.equal(needsResync(event(kind), 'ready', 1), false, kind);
  });
});

describe('resyncVerdict', () => {
  const truth = (running: boolean, paused = false): RunTruth => ({ running, paused, exitCode: running ? undefined : 1, down: 'app' });
  it('maps what the engine says, in the state asked in, to what the activation does', () => {
    assert.equal(resyncVerdict('ready', truth(true), false), 'none');
    assert.equal(resyncVerdict('ready', truth(true, true), false), 'paused outside');
    assert.equal(resyncVerdict('paused', truth(true, true), false), 'none');
    assert.equal(resyncVerdict('paused', truth(true, false), false), 'unpaused outside');
    assert.equal(resyncVerdict('starting', truth(false), false), 'exited while starting');
    assert.equal(resyncVerdict('ready', truth(false), false), 'stopped outside');
    assert.equal(resyncVerdict('paused', truth(false), false), 'stopped outside');
    assert.equal(resyncVerdict('ready', truth(false), true), 'group member down');
    assert.equal(resyncVerdict('starting', truth(false), true), 'exited while starting');
  });
});

describe('SingleFlight', () => {
  it('callers during a run share one run after it; a later caller starts afresh', async () => {
    const flight = new SingleFlight();
    const releases: (() => void)[] = [];
    let runs = 0;
    const task = (): Promise<void> => {
      runs++;
      return new Promise<void>((resolve) => releases.push(resolve));
    };
    const first = flight.run(task);
    const second = flight.run(task);
    const third = flight.run(task);
    assert.equal(second, third, 'both share the follow-up');
    assert.equal(runs, 1);
    releases[0]?.();
    await first;
    await new Promise((r) => setImmediate(r));
    assert.equal(runs, 2, 'one follow-up run for both');
    releases[1]?.();
    await second;
    const fourth = flight.run(task);
    assert.equal(runs, 3);
    releases[2]?.();
    await fourth;
  });
});

describe('inspectRun', () => {
  const spec = (members?: string[]): ActivationSpec => ({
    name: 'web', container: 'app', port: undefined, upstream: undefined, ready: { kind: 'tcp' }, startTimeoutMs: 5_000, idleTimeoutMs: undefined, stopTimeoutMs: 2_000,
    ...(members === undefined ? {} : { members }),
  });

  it('running, paused, and another run than the one in use', async () => {
    const clock = new ManualClock();
    const provider = new FakeProvider(clock);
    const app = provider.add({ name: 'app', running: true });
    assert.deepEqual(await inspectRun(provider, clock, spec(), app.id), { running: true, paused: false, exitCode: undefined, down: 'app' });
    provider.pauseOutside('app');
    assert.equal((await inspectRun(provider, clock, spec(), app.id)).paused, true);
    assert.equal((await inspectRun(provider, clock, spec(), 'an-earlier-run')).running, false);
  });

  it('a gone container is not running; a group is down when one member is, and names it', async () => {
    const clock = new ManualClock();
    const provider = new FakeProvider(clock);
    provider.add({ name: 'app', running: true });
    provider.add({ name: 'db', running: true });
    provider.add({ name: 'cache', running: true });
    assert.equal((await inspectRun(provider, clock, spec(['db', 'cache']), undefined)).running, true);
    provider.kill('cache', 3);
    assert.deepEqual(await inspectRun(provider, clock, spec(['db', 'cache']), undefined), { running: false, paused: false, exitCode: 3, down: 'cache' });
    assert.deepEqual(await inspectRun(provider, clock, spec(['db', 'nope']), undefined), { running: false, paused: false, exitCode: undefined, down: 'nope' });
    assert.deepEqual(await inspectRun(provider, clock, { ...spec(), container: 'gone' }, undefined), { running: false, paused: false, exitCode: undefined, down: 'gone' });
  });

  it('rejects when the engine cannot answer', async () => {
    const clock = new ManualClock();
    const provider = new FakeProvider(clock);
    provider.add({ name: 'app', running: true });
    provider.unreachable = true;
    await assert.rejects(inspectRun(provider, clock, spec(), undefined), ProviderUnreachableError);
  });
});
