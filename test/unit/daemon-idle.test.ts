// What an idle daemon holds, with the fake provider and a manual clock: no events stream until a
// service first starts, and the heap start-up grew given back a moment after start-up — but not
// while a cold start is in flight.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { getHeapSpaceStatistics } from 'node:v8';
import { parseConfig } from '../../src/config/load.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { releaseHeap } from '../../src/daemon/heap-release.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { recordingLogger, type LogLine } from '../support/control-harness.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { freePort } from '../support/daemon-harness.ts';

const RELEASED = 'released the heap grown at start-up';

/** Polls in real time: the release itself runs outside the manual clock. */
async function eventually(what: string, pred: () => boolean, ms = 5_000): Promise<void> {
  const until = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > until) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const youngGenerationBytes = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;

async function startDaemon(t: TestContext): Promise<{ daemon: Daemon; clock: ManualClock; provider: FakeProvider; released: () => boolean }> {
  const clock = new ManualClock();
  const provider = new FakeProvider(clock);
  provider.add({ name: 'web', startMs: 5_000 });
  const lines: LogLine[] = [];
  const config = parseConfig(`services:\n  web: {listen: "127.0.0.1:${await freePort()}", container: web}\n`, 'test.yaml');
  const daemon = await Daemon.start({ config, configPath: undefined, logger: recordingLogger(lines), env: {}, stopOnExit: false, graceMs: 0, exitIdleMs: undefined, provider, clock });
  t.after(() => daemon.shutdown('test end'));
  return { daemon, clock, provider, released: () => lines.some((l) => l.msg === RELEASED) };
}

describe('an idle daemon', () => {
  it('opens no events stream until a service starts, and gives the start-up heap back a moment after start-up', async (t) => {
    const { daemon, clock, provider, released } = await startDaemon(t);
    await clock.advance(1_000);
    assert.equal(provider.subscriberCount, 0, 'no events stream while every service is stopped');
    await eventually('the release', released);
    void daemon.start('web').catch(() => undefined);
    await clock.advance(0);
    assert.equal(provider.subscriberCount, 1, 'the first start opens the events stream');
  });

  it('puts the release off while a cold start is in flight', async (t) => {
    const { daemon, clock, provider, released } = await startDaemon(t);
    const start = daemon.start('web').then(() => 'ready', () => 'failed');
    await clock.advance(2_000);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(released(), false, 'not while web is starting');
    provider.unreachable = true; // the start's inspect fails: web leaves 'starting'
    await clock.advance(3_000);
    assert.equal(await start, 'failed');
    await clock.advance(1_000);
    await eventually('the release once the start is over', released);
  });
});

describe('releaseHeap', () => {
  it('shrinks a young generation that grew, and says so at debug level', async () => {
    const keep: object[] = [];
    for (let i = 0; i < 400_000; i++) keep.push({ i, s: `x${i}` }); // survivors make V8 grow it
    const grown = youngGenerationBytes();
    assert.ok(grown > 4 * 1024 * 1024, `young generation ${grown} bytes`);
    keep.length = 0;
    const lines: LogLine[] = [];
    await releaseHeap(recordingLogger(lines));
    assert.ok(youngGenerationBytes() < grown, `${youngGenerationBytes()} < ${grown}`);
    const line = lines.find((l) => l.msg === RELEASED);
    assert.equal(line?.level, 'debug');
    assert.ok('rssAfterMiB' in (line?.obj ?? {}));
  });
});
