// --exit-idle-time policy on a manual clock: exits only when nothing is open, starting, stopping
// or waiting for an idle stop, and only once the latest activity is old enough.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExitIdleTimer, exitIdleDecision, type ExitIdleView } from '../../src/systemd/exit-idle.ts';
import { ManualClock } from '../support/manual-clock.ts';

const idle = (over: Partial<ExitIdleView> = {}): ExitIdleView => ({
  state: 'stopped', openConnections: 0, heldConnections: 0, lastActivity: undefined, idleDeadline: undefined, ...over,
});

describe('exitIdleDecision', () => {
  it('exits once the latest activity (or start) is idleMs ago', () => {
    assert.deepEqual(exitIdleDecision([idle(), idle()], 1_000, 1_000, 0), { kind: 'exit' });
    assert.deepEqual(exitIdleDecision([idle()], 999, 1_000, 0), { kind: 'wait', checkAt: 1_000, reason: 'idle, not long enough yet' });
    assert.deepEqual(exitIdleDecision([idle({ lastActivity: 500 }), idle({ lastActivity: 200 })], 1_000, 1_000, 0), { kind: 'wait', checkAt: 1_500, reason: 'idle, not long enough yet' });
  });

  it('never exits while busy', () => {
    const busy: Array<Partial<ExitIdleView>> = [
      { state: 'ready', openConnections: 1 },
      { state: 'starting', heldConnections: 1 },
      { state: 'starting' },
      { state: 'stopping' },
      { state: 'ready', idleDeadline: 5_000 },
    ];
    for (const b of busy) {
      const d = exitIdleDecision([idle(), idle(b)], 1e9, 1_000, 0);
      assert.equal(d.kind, 'wait', JSON.stringify(b));
      assert.equal(d.kind === 'wait' ? d.checkAt : 0, undefined);
    }
  });

  it('counts a running container without an idle timeout, and a failed service, as idle', () => {
    assert.deepEqual(exitIdleDecision([idle({ state: 'ready' }), idle({ state: 'failed' })], 1_000, 1_000, 0), { kind: 'exit' });
  });
});

describe('ExitIdleTimer', () => {
  it('fires once after the idle time, re-deciding on pokes and its own timer', async () => {
    const clock = new ManualClock();
    const views = [idle()];
    let exits = 0;
    const t = new ExitIdleTimer({ idleMs: 10_000, clock, services: () => views, onExit: () => exits++ });
    await clock.advance(6_000);
    views[0] = idle({ state: 'ready', openConnections: 1, lastActivity: clock.now() });
    t.poke();
    await clock.advance(60_000);
    assert.equal(exits, 0);
    views[0] = idle({ lastActivity: clock.now() });
    t.poke();
    await clock.advance(9_999);
    assert.equal(exits, 0);
    await clock.advance(1);
    assert.equal(exits, 1);
    t.poke();
    await clock.advance(60_000);
    assert.equal(exits, 1);
    assert.equal(clock.pendingTimers, 0);
  });

  it('exits even when the end of being busy comes with no poke, counting from when it was last seen busy', async () => {
    const clock = new ManualClock();
    // A connection held while a start fails: no activity is recorded, and its release sends no event.
    const views = [idle({ state: 'starting', heldConnections: 1 })];
    let exits = 0;
    new ExitIdleTimer({ idleMs: 10_000, clock, services: () => views, onExit: () => exits++ });
    await clock.advance(15_000);
    views[0] = idle({ state: 'failed' });
    await clock.advance(4_999);
    assert.equal(exits, 0, 'busy at 10 s: idle counts from there');
    await clock.advance(5_001);
    assert.equal(exits, 1);
  });

  it('stop() disarms it', async () => {
    const clock = new ManualClock();
    let exits = 0;
    const t = new ExitIdleTimer({ idleMs: 1_000, clock, services: () => [idle()], onExit: () => exits++ });
    t.stop();
    await clock.advance(5_000);
    assert.equal(exits, 0);
    assert.equal(clock.pendingTimers, 0);
  });
});
