// The cases every Provider must pass: Docker (test/docker/provider-docker.test.ts, real engine), the
// fake (test/unit/provider-fake.test.ts), the command provider in both modes (run: and
// start:/stop:/status:, test/unit/provider-command.test.ts, real processes), Podman. A suite calls
// providerContract(name, makeFixture, { skip }) and may skip a case only with a written reason,
// which the test report shows. Skips today:
// - fake: none.
// - command (run:): start-running-ip's address is the upstream's (the process has no network of
//   its own: it passes with a 127.0.0.1 upstream); health and unreachable (no HEALTHCHECK, no engine).
// - command (start:/stop:/status:): also stop-grace (the grace is the outside manager's) and
//   events-crash (portwake does not watch a process it did not start; the next inspect sees it).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { ContainerNotFoundError, ProviderUnreachableError } from '../../src/core/errors.ts';
import type { ContainerEvent, Provider } from '../../src/core/provider.ts';

/** What the contract asks of a test container beyond the default. */
export interface ContractContainerSpec {
  /** Has a HEALTHCHECK that passes once the server answers (within a few seconds of start). */
  healthcheck?: boolean;
  /** The main process ignores SIGTERM, so stop() has to SIGKILL it after the grace period. */
  ignoreSigterm?: boolean;
  /** The main process exits by itself with code 1 about this long after start. */
  crashAfterMs?: number;
}

/**
 * What a provider's suite supplies. createStopped makes a container that exists but is not running;
 * by default it serves TCP port 80 (exposed; or the `port` it returns), sits on a network that gives it an IPv4 address when
 * running, and exits promptly with code 0 on SIGTERM.
 */
export interface ProviderFixture {
  provider: Provider;
  createStopped(spec?: ContractContainerSpec): Promise<{ name: string; port?: number }>;
  /** A provider of the same kind whose engine cannot be reached. */
  unreachable(): Provider;
  /** Removes everything createStopped made. */
  cleanup(): Promise<void>;
}

export type ContractCase =
  | 'ping'
  | 'inspect-missing'
  | 'start-stop-missing'
  | 'inspect-stopped'
  | 'start-running-ip'
  | 'start-twice'
  | 'start-concurrent'
  | 'stop'
  | 'stop-grace'
  | 'events-start-die'
  | 'events-crash'
  | 'health'
  | 'events-abort'
  | 'abort-calls'
  | 'unreachable';

export interface ContractOptions {
  /** Cases this provider cannot meaningfully run, each with the reason (shown in the test report). */
  skip?: Partial<Record<ContractCase, string>>;
}

const EVENT_TIMEOUT_MS = 15_000;
/**
 * The engine subscribes a little after the events request is sent and does not say when; actions
 * taken in that window would be missed, so the cases wait this long after opening the stream.
 */
const SUBSCRIBE_SETTLE_MS = 300;

export function providerContract(name: string, makeFixture: () => Promise<ProviderFixture>, options: ContractOptions = {}): void {
  describe(`provider contract: ${name}`, () => {
    let fx: ProviderFixture;
    before(async () => { fx = await makeFixture(); });
    after(async () => { await fx?.cleanup(); });

    const test = (id: ContractCase, title: string, fn: () => Promise<void>): void => {
      const reason = options.skip?.[id];
      it(`${id}: ${title}`, reason === undefined ? {} : { skip: reason }, fn);
    };

    test('ping', 'the engine answers a ping', async () => {
      await fx.provider.ping(AbortSignal.timeout(10_000));
    });

    test('inspect-missing', 'inspect of a missing container rejects with ContainerNotFoundError', async () => {
      const missing = `pwtest-missing-${process.pid}-${Date.now()}`;
      const err = await rejection(fx.provider.inspect(missing));
      assert.ok(err instanceof ContainerNotFoundError, `expected ContainerNotFoundError, got ${String(err)}`);
      assert.equal(err.code, 'CONTAINER_NOT_FOUND');
      assert.equal(err.container, missing);
      assert.match(err.message, new RegExp(missing));
    });

    test('start-stop-missing', 'start and stop of a missing container reject with ContainerNotFoundError', async () => {
      const missing = `pwtest-missing-${process.pid}-${Date.now()}`;
      assert.ok(await rejection(fx.provider.start(missing)) instanceof ContainerNotFoundError);
      assert.ok(await rejection(fx.provider.stop(missing, 1)) instanceof ContainerNotFoundError);
    });

    test('inspect-stopped', 'a created container is reported stopped, with its exposed port and no health', async () => {
      const { name, port = 80 } = await fx.createStopped();
      const info = await fx.provider.inspect(name);
      assert.equal(info.name, name);
      assert.ok(info.id.length > 0);
      assert.equal(info.running, false);
      assert.ok(info.status === 'created' || info.status === 'exited', `status ${info.status}`);
      assert.ok(info.exposedPorts.includes(port), `exposedPorts ${JSON.stringify(info.exposedPorts)}`);
      assert.equal(info.hasHealthcheck, false);
      assert.equal(info.health, 'none');
      assert.equal(info.exitCode, undefined, 'a never-started container has no exit code');
      const byId = await fx.provider.inspect(info.id);
      assert.equal(byId.name, name, 'inspect accepts the id too');
    });

    test('start-running-ip', 'start resolves with the container running and an IPv4 address on its network', async () => {
      const { name } = await fx.createStopped();
      await fx.provider.start(name);
      const info = await fx.provider.inspect(name);
      assert.equal(info.running, true);
      assert.equal(info.status, 'running');
      assert.equal(info.exitCode, undefined);
      const withIp = info.networks.filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n.ipAddress));
      assert.ok(withIp.length > 0, `networks ${JSON.stringify(info.networks)}`);
    });

    test('start-twice', 'starting a running container is success, and says it was already running', async () => {
      const { name } = await fx.createStopped();
      assert.equal(await fx.provider.start(name), true);
      assert.equal(await fx.provider.start(name), false);
      assert.equal((await fx.provider.inspect(name)).running, true);
    });

    test('start-concurrent', 'two starts at once run the container once: one says it started it (the other that it was running, or on Docker at times that it started it too)', async () => {
      const { name } = await fx.createStopped();
      const tap = await EventTap.open(fx.provider);
      try {
        const answers = await Promise.all([fx.provider.start(name), fx.provider.start(name)]);
        // Usually one true and one false. Docker checks "already running" before it takes the
        // container's lock, so the second request can wait behind the first and then answer 204
        // too (seen once in CI): both true. What holds on every engine is one start, one event.
        assert.ok(answers.includes(true), `one of them started it: answers ${JSON.stringify(answers)}`);
        assert.equal((await fx.provider.inspect(name)).running, true);
        await tap.waitFor((e) => e.kind === 'start' && e.name === name, `start of ${name}`);
        await delay(SUBSCRIBE_SETTLE_MS);
        assert.equal(tap.count((e) => e.kind === 'start' && e.name === name), 1, 'one start event');
      } finally {
        await tap.close();
      }
    });

    test('stop', 'stop ends a running container; stopping a stopped one is success', async () => {
      const { name } = await fx.createStopped();
      await fx.provider.stop(name, 5); // never started
      await fx.provider.start(name);
      await fx.provider.stop(name, 5);
      const info = await fx.provider.inspect(name);
      assert.equal(info.running, false);
      assert.equal(info.status, 'exited');
      assert.equal(typeof info.exitCode, 'number');
      await fx.provider.stop(name, 5);
    });

    test('stop-grace', 'stop waits the grace period, then kills a process that ignores SIGTERM', async () => {
      const { name } = await fx.createStopped({ ignoreSigterm: true });
      await fx.provider.start(name);
      // A moment for the process to set SIGTERM aside: a start resolves once it runs, not once it is set up.
      await delay(SUBSCRIBE_SETTLE_MS);
      const t0 = Date.now();
      await fx.provider.stop(name, 1);
      const took = Date.now() - t0;
      assert.ok(took >= 900, `stop returned after ${took}ms, before the 1s grace`);
      assert.ok(took < 10_000, `stop took ${took}ms`);
      const info = await fx.provider.inspect(name);
      assert.equal(info.running, false);
      assert.equal(info.exitCode, 137, 'SIGKILL');
    });

    test('events-start-die', 'the events stream reports start, then die with the exit code', async () => {
      const { name } = await fx.createStopped();
      const tap = await EventTap.open(fx.provider);
      try {
        await fx.provider.start(name);
        const started = await tap.waitFor((e) => e.kind === 'start' && e.name === name, `start of ${name}`);
        const info = await fx.provider.inspect(name);
        assert.equal(started.id, info.id);
        assert.ok(Math.abs(started.time - Date.now()) < 60_000, `event time ${started.time}`);
        await fx.provider.stop(name, 5);
        const died = await tap.waitFor((e) => e.kind === 'die' && e.name === name, `die of ${name}`);
        assert.equal(typeof died.exitCode, 'number');
        assert.equal(died.id, info.id);
      } finally {
        await tap.close();
      }
    });

    test('events-crash', 'a container that exits by itself reports die with its code, and inspect agrees', async () => {
      const { name } = await fx.createStopped({ crashAfterMs: 300 });
      const tap = await EventTap.open(fx.provider);
      try {
        await fx.provider.start(name);
        const died = await tap.waitFor((e) => e.kind === 'die' && e.name === name, `die of ${name}`);
        assert.equal(died.exitCode, 1);
        const info = await fx.provider.inspect(name);
        assert.equal(info.running, false);
        assert.equal(info.status, 'exited');
        assert.equal(info.exitCode, 1);
      } finally {
        await tap.close();
      }
    });

    test('health', 'a HEALTHCHECK is reported by inspect and its result arrives as a health event', async () => {
      const { name } = await fx.createStopped({ healthcheck: true });
      assert.equal((await fx.provider.inspect(name)).hasHealthcheck, true);
      const tap = await EventTap.open(fx.provider);
      try {
        await fx.provider.start(name);
        const healthy = await tap.waitFor((e) => e.kind === 'health' && e.name === name && e.health === 'healthy', `healthy ${name}`);
        assert.equal(healthy.health, 'healthy');
        const info = await fx.provider.inspect(name);
        assert.equal(info.health, 'healthy');
        assert.equal(info.hasHealthcheck, true);
      } finally {
        await tap.close();
      }
    });

    test('events-abort', 'aborting the signal ends the events iterator without an error', async () => {
      const pre = new AbortController();
      pre.abort(new Error('not wanted'));
      for await (const e of fx.provider.events(pre.signal)) assert.fail(`event after abort: ${JSON.stringify(e)}`);

      const ac = new AbortController();
      const iterating = (async () => {
        let n = 0;
        for await (const _ of fx.provider.events(ac.signal)) n++;
        return n;
      })();
      await delay(SUBSCRIBE_SETTLE_MS);
      const t0 = Date.now();
      ac.abort(new Error('test is done'));
      await Promise.race([iterating, delay(5_000).then(() => assert.fail('iterator still open 5s after abort'))]);
      assert.ok(Date.now() - t0 < 5_000);
    });

    test('abort-calls', "an aborted signal rejects every call with the signal's reason", async () => {
      const { name } = await fx.createStopped();
      const ac = new AbortController();
      const reason = new Error('caller gave up');
      ac.abort(reason);
      assert.equal(await rejection(fx.provider.inspect(name, ac.signal)), reason);
      assert.equal(await rejection(fx.provider.start(name, ac.signal)), reason);
      assert.equal(await rejection(fx.provider.stop(name, 1, ac.signal)), reason);
      assert.equal(await rejection(fx.provider.ping(ac.signal)), reason);
      assert.equal((await fx.provider.inspect(name)).running, false, 'an aborted start did not start it');
    });

    test('unreachable', 'every call to an unreachable engine rejects with ProviderUnreachableError', async () => {
      const p = fx.unreachable();
      const calls: [string, Promise<unknown>][] = [
        ['ping', p.ping()],
        ['inspect', p.inspect('pwtest-any')],
        ['start', p.start('pwtest-any')],
        ['stop', p.stop('pwtest-any', 1)],
        ['events', (async () => { for await (const _ of p.events(AbortSignal.timeout(10_000))) { /* none expected */ } })()],
      ];
      for (const [what, call] of calls) {
        const err = await rejection(call);
        assert.ok(err instanceof ProviderUnreachableError, `${what}: expected ProviderUnreachableError, got ${String(err)}`);
        assert.equal(err.code, 'PROVIDER_UNREACHABLE');
        assert.ok(err.message.includes(p.endpoint), `${what}: message names the endpoint: ${err.message}`);
      }
    });
  });
}

/** Resolves with what the promise rejects with; fails the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  return assert.fail('expected a rejection');
}

/** Reads a provider's events in the background, so cases can wait for the ones they expect. */
class EventTap {
  private readonly seen: ContainerEvent[] = [];
  private readonly waiters = new Set<() => void>();
  private failure: unknown;
  private readonly controller = new AbortController();
  private loop: Promise<void> = Promise.resolve();

  static async open(provider: Provider): Promise<EventTap> {
    const tap = new EventTap();
    tap.loop = tap.run(provider);
    await delay(SUBSCRIBE_SETTLE_MS);
    return tap;
  }

  private async run(provider: Provider): Promise<void> {
    try {
      for await (const e of provider.events(this.controller.signal)) {
        this.seen.push(e);
        for (const w of this.waiters) w();
      }
    } catch (err) {
      this.failure = err;
      for (const w of this.waiters) w();
    }
  }

  count(pred: (e: ContainerEvent) => boolean): number {
    return this.seen.filter(pred).length;
  }

  async waitFor(pred: (e: ContainerEvent) => boolean, what: string, timeoutMs = EVENT_TIMEOUT_MS): Promise<ContainerEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.seen.find(pred);
      if (hit !== undefined) return hit;
      if (this.failure !== undefined) throw new Error(`events stream failed while waiting for ${what}`, { cause: this.failure });
      const left = deadline - Date.now();
      if (left <= 0) {
        const kinds = this.seen.map((e) => `${e.kind}:${e.name}${e.health === undefined ? '' : `:${e.health}`}`).join(', ');
        throw new Error(`no event for ${what} within ${timeoutMs}ms (seen: ${kinds === '' ? 'none' : kinds})`);
      }
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(timer); this.waiters.delete(done); resolve(); };
        const timer = setTimeout(done, left);
        this.waiters.add(done);
      });
    }
  }

  async close(): Promise<void> {
    this.controller.abort(new Error('event tap closed'));
    await this.loop;
    if (this.failure !== undefined) throw new Error('events stream failed', { cause: this.failure });
  }
}
