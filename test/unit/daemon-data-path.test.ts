// The daemon says which data path it runs on (the `listening:` line's dataPath), uses the native
// one when the addon is built, and PORTWAKE_NATIVE=off in its environment turns it off.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { recordingLogger, type LogLine } from '../support/control-harness.ts';
import { freePort } from '../support/daemon-harness.ts';
import { ManualClock } from '../support/manual-clock.ts';

async function listeningLine(t: TestContext, env: Record<string, string>): Promise<Record<string, unknown>> {
  const clock = new ManualClock();
  const provider = new FakeProvider(clock);
  provider.add({ name: 'web', startMs: 10 });
  const lines: LogLine[] = [];
  const config = parseConfig(`services:\n  web: {listen: "127.0.0.1:${await freePort()}", container: web}\n`, 'test.yaml');
  const daemon = await Daemon.start({ config, configPath: undefined, logger: recordingLogger(lines), env, stopOnExit: false, graceMs: 0, exitIdleMs: undefined, provider, clock });
  t.after(() => daemon.shutdown('test end'));
  const line = lines.find((l) => l.msg.startsWith('listening:'));
  assert.ok(line, 'a listening: line');
  return line.obj as Record<string, unknown>;
}

describe('the data path', () => {
  it('is native when the addon is built, and the listening: line says so', async (t) => {
    assert.equal((await listeningLine(t, {})).dataPath, 'native');
  });

  it('is JavaScript with PORTWAKE_NATIVE=off, and the line says why', async (t) => {
    assert.equal((await listeningLine(t, { PORTWAKE_NATIVE: 'off' })).dataPath, 'javascript (PORTWAKE_NATIVE=off)');
  });
});
