// sd_notify against a real NOTIFY_SOCKET (a python3 receiver, since Node has no Unix datagram
// sockets): READY=1, STATUS=, WATCHDOG=1 and STOPPING=1 arrive in order through the addon and
// through systemd-notify, to a path and to an abstract socket; failures are logged, never thrown.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Logger } from '../../src/core/logger.ts';
import { loadDgramAddon } from '../../src/systemd/notify-transports.ts';
import { createNotifier, noopNotifier, type CreateNotifierOptions } from '../../src/systemd/notify.ts';
import { formatStatusLine } from '../../src/systemd/status-line.ts';
import { startChild, tempDir } from './helpers.ts';

interface Received { pid: number | null; message: string }

async function receiver(t: TestContext, address: string): Promise<() => Promise<Received[]>> {
  const child = startChild(t, 'python3', ['test/systemd/fixtures/notify-receiver.py', address]);
  await child.waitFor(/BOUND/);
  return async () => {
    assert.equal(await child.exited, 0, child.stderr());
    return child.stdout().split('\n').slice(1).filter((l) => l !== '').map((l) => JSON.parse(l) as Received)
      .filter((r) => r.message !== 'BARRIER=1');
  };
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const l: Logger & { lines: string[] } = {
    lines,
    debug: (_o, m) => lines.push(`debug ${m}`),
    info: (_o, m) => lines.push(`info ${m}`),
    warn: (o, m) => lines.push(`warn ${m} ${JSON.stringify(o)}`),
    error: (_o, m) => lines.push(`error ${m}`),
    child: () => l,
  };
  return l;
}

async function sendAll(socket: string, options: CreateNotifierOptions): Promise<Logger & { lines: string[] }> {
  const logger = recordingLogger();
  const n = await createNotifier({ NOTIFY_SOCKET: socket }, logger, options);
  assert.notEqual(n, noopNotifier);
  n.ready();
  n.status(formatStatusLine([{ state: 'ready' }, { state: 'stopped' }, { state: 'starting' }]));
  n.watchdog();
  n.stopping();
  await n.flush();
  return logger;
}

const EXPECTED = ['READY=1', 'STATUS=3 services, 1 running, 1 starting', 'WATCHDOG=1', 'STOPPING=1'];
const withoutAddon: CreateNotifierOptions = { loadAddon: async () => undefined };

describe('sd_notify to a real socket', { timeout: 60_000 }, () => {
  it('sends through node-unix-socket from portwake\'s own PID', async (t) => {
    const addon = await loadDgramAddon();
    if (addon === undefined) {
      t.skip('node-unix-socket (optional dependency) is not installed here; systemd-notify covers it');
      return;
    }
    const path = join(tempDir(t), 'notify.sock');
    const received = await receiver(t, path);
    const logger = await sendAll(path, {});
    const got = await received();
    assert.deepEqual(got.map((r) => r.message), EXPECTED);
    assert.ok(got.every((r) => r.pid === process.pid));
    assert.deepEqual(logger.lines.filter((l) => l.startsWith('warn')), []);
  });

  // systemd-notify sends with its parent's PID only when privileged, its own otherwise: hence NotifyAccess=all.
  it('sends through systemd-notify when the addon is missing', async (t) => {
    const path = join(tempDir(t), 'notify.sock');
    const received = await receiver(t, path);
    const logger = await sendAll(path, withoutAddon);
    const got = await received();
    assert.deepEqual(got.map((r) => r.message), EXPECTED);
    assert.deepEqual(logger.lines.filter((l) => l.startsWith('warn')), []);
  });

  it('reaches an abstract socket (@name) through systemd-notify, even with the addon installed', async (t) => {
    const address = `@portwake-test-${randomBytes(6).toString('hex')}`;
    const received = await receiver(t, address);
    await sendAll(address, {});
    assert.deepEqual((await received()).map((r) => r.message), EXPECTED);
  });

  it('logs a socket nobody listens on as a warning and carries on', async (t) => {
    const path = join(tempDir(t), 'nobody.sock');
    for (const options of [{}, withoutAddon]) {
      const logger = await sendAll(path, options);
      const warnings = logger.lines.filter((l) => l.startsWith('warn'));
      assert.equal(warnings.length, 1, logger.lines.join('\n'));
      assert.match(warnings[0] ?? '', /sd_notify failed, ignoring.*"message":"READY=1"/);
    }
  });

  it('sends nothing and fails nothing without NOTIFY_SOCKET', async () => {
    const n = await createNotifier({}, recordingLogger());
    n.ready();
    n.stopping();
    await n.flush();
    assert.equal(n, noopNotifier);
  });
});
