// The fake provider passes the same contract as the Docker provider, so that unit tests built on
// it mean something about the real engine.

import { systemClock } from '../../src/core/clock.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { providerContract } from '../support/provider-contract.ts';

let n = 0;
providerContract('fake', async () => {
  const provider = new FakeProvider(systemClock);
  return {
    provider,
    createStopped: async (spec = {}) => {
      const name = `fake-${++n}`;
      provider.add({
        name,
        listenMs: spec.healthcheck === true ? 200 : 0,
        ...(spec.healthcheck === true ? { hasHealthcheck: true } : {}),
        ...(spec.crashAfterMs === undefined ? {} : { crashAfterMs: spec.crashAfterMs }),
      });
      return { name };
    },
    unreachable: () => Object.assign(new FakeProvider(systemClock), { unreachable: true }),
    cleanup: async () => undefined,
  };
}, {
  skip: {
    'stop-grace': 'the fake has no process that could ignore SIGTERM; grace periods are the engine\'s',
  },
});
