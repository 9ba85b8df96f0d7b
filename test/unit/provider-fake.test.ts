// The fake provider passes the same contract as the Docker provider, so that unit tests built on
// it mean something about the real engine.

import { systemClock, type Clock } from '../../src/core/clock.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { providerContract } from '../support/provider-contract.ts';

/** The system clock with timers that keep the process alive, as a real engine's work does (stop-grace waits on one alone). */
const refClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(t) };
  },
};

let n = 0;
providerContract('fake', async () => {
  const provider = new FakeProvider(refClock);
  return {
    provider,
    createStopped: async (spec = {}) => {
      const name = `fake-${++n}`;
      provider.add({
        name,
        listenMs: spec.healthcheck === true ? 200 : 0,
        ...(spec.healthcheck === true ? { hasHealthcheck: true } : {}),
        ...(spec.crashAfterMs === undefined ? {} : { crashAfterMs: spec.crashAfterMs }),
        ...(spec.ignoreSigterm === true ? { ignoreSigterm: true } : {}),
      });
      return { name };
    },
    unreachable: () => Object.assign(new FakeProvider(systemClock), { unreachable: true }),
    cleanup: async () => undefined,
  };
});
