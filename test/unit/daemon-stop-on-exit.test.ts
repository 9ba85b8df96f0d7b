// Shutdown with --stop-on-exit while a start is in flight, with the fake provider and a manual
// clock: the container that start is running ends stopped (it used to run on: the start was
// cancelled first, the service was then 'failed' and owned nothing).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';
import { freePort } from '../support/daemon-harness.ts';

describe('shutdown with --stop-on-exit', () => {
  for (const stopOnExit of [true, false]) {
    it(stopOnExit ? 'stops the container of a start in flight' : 'without it, leaves the container of a start in flight as it is', async (t) => {
      const clock = new ManualClock();
      const provider = new FakeProvider(clock);
      provider.add({ name: 'web', startMs: 100, listenMs: 60_000 });
      const config = parseConfig(`services:\n  web: {listen: "127.0.0.1:${await freePort()}", container: web, ready: {delay: 30s}}\n`, 'test.yaml');
      const daemon = await Daemon.start({ config, configPath: undefined, logger: silentLogger, env: {}, stopOnExit, graceMs: 0, exitIdleMs: undefined, provider, clock });
      t.after(() => daemon.shutdown('test end'));
      void daemon.start('web').catch(() => undefined);
      await clock.advance(500); // running, waiting for the ready delay
      assert.equal(provider.containers.get('web')?.running, true);
      assert.equal(daemon.status()[0]?.state, 'starting');
      const down = daemon.shutdown('SIGTERM');
      await clock.advance(100);
      await down;
      assert.equal(provider.containers.get('web')?.running, !stopOnExit, stopOnExit ? 'the container does not run on' : 'left running');
      if (stopOnExit) assert.equal(daemon.status()[0]?.state, 'stopped');
    });
  }
});
