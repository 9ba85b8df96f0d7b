// The start-up check of `portwake run` with a scripted engine: an engine that does not answer is one
// warning (and no inspect); missing containers are one warning per service; at most a few inspects
// are in flight at once; an abort ends it quietly.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { STARTUP_CHECK_CONCURRENCY, startupCheck } from '../../src/cli/startup-check.ts';
import { parseConfig } from '../../src/config/load.ts';
import { ContainerNotFoundError, ProviderUnreachableError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import type { ContainerInfo, Provider } from '../../src/core/provider.ts';

function recorder(): { logger: Logger; lines: Array<{ level: string; obj: object; msg: string }> } {
  const lines: Array<{ level: string; obj: object; msg: string }> = [];
  const at = (level: string) => (obj: object, msg: string): void => { lines.push({ level, obj, msg }); };
  const logger: Logger = { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return { logger, lines };
}

const info = (name: string): ContainerInfo => ({
  id: name, name, status: 'created', running: false, health: 'none', exitCode: undefined, exposedPorts: [80], published: [],
  networks: [], networkMode: 'bridge', hasHealthcheck: false, startedAt: undefined,
});

/** Inspect answers after a turn; containers named "gone-*" do not exist. Counts inspects in flight. */
function engine(o: { down?: boolean } = {}): Provider & { inspected: string[]; maxInFlight: number } {
  let inFlight = 0;
  const p = {
    endpoint: 'unix:///test/engine.sock',
    inspected: [] as string[],
    maxInFlight: 0,
    ping: () => (o.down === true ? Promise.reject(new ProviderUnreachableError('unix:///test/engine.sock')) : Promise.resolve()),
    async inspect(container: string) {
      p.inspected.push(container);
      inFlight++;
      p.maxInFlight = Math.max(p.maxInFlight, inFlight);
      await new Promise((r) => setImmediate(r));
      inFlight--;
      if (container.startsWith('gone-')) throw new ContainerNotFoundError(container);
      return info(container);
    },
    start: () => Promise.resolve(true),
    stop: () => Promise.resolve(),
    events: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.resolve({ done: true as const, value: undefined }) }) }),
  };
  return p;
}

const services = (names: string[]) =>
  parseConfig(`services:\n${names.map((n, i) => `  s${i}: {listen: ${8000 + i}, container: ${n}}`).join('\n')}\n`, 't.yaml').services;

describe('start-up check', () => {
  it('an engine that does not answer: one warning naming it, no inspect', async () => {
    const { logger, lines } = recorder();
    const p = engine({ down: true });
    await startupCheck(services(['a', 'b']), p, logger, new AbortController().signal);
    assert.deepEqual(p.inspected, []);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]?.level, 'warn');
    assert.match(lines[0]?.msg ?? '', /^start-up check: container engine at unix:\/\/\/test\/engine\.sock is unreachable \(PROVIDER_UNREACHABLE\); serving anyway/);
  });

  it('one warning per service with a missing container, every container inspected, a few at a time', async () => {
    const { logger, lines } = recorder();
    const p = engine();
    const names = Array.from({ length: 20 }, (_, i) => (i % 5 === 0 ? `gone-${i}` : `ok-${i}`));
    await startupCheck(services(names), p, logger, new AbortController().signal);
    assert.deepEqual([...p.inspected].sort(), [...names].sort());
    assert.ok(p.maxInFlight <= STARTUP_CHECK_CONCURRENCY, `at most ${STARTUP_CHECK_CONCURRENCY} in flight (${p.maxInFlight})`);
    const warnings = lines.filter((l) => l.level === 'warn');
    assert.deepEqual(warnings.map((w) => (w.obj as { service: string }).service).sort(), ['s0', 's10', 's15', 's5']);
    assert.match(warnings[0]?.msg ?? '', /^start-up check: service "s\d+": container "gone-\d+" does not exist/);
    assert.deepEqual(lines.at(-1), { level: 'info', obj: { ok: 16, problems: 4 }, msg: 'start-up check: 16 service(s) ok, 4 with problems' });
  });

  it('stops when aborted, saying nothing more', async () => {
    const { logger, lines } = recorder();
    const stop = new AbortController();
    const p = engine();
    const checking = startupCheck(services(Array.from({ length: 40 }, (_, i) => `gone-${i}`)), p, logger, stop.signal);
    stop.abort();
    await checking;
    assert.ok(p.inspected.length <= STARTUP_CHECK_CONCURRENCY, `no new inspect after the abort (${p.inspected.length})`);
    assert.deepEqual(lines, []);
  });
});
