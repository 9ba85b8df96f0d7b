// The real `portwake proxy --listen-from-systemd`, started lazily by systemd-socket-activate with a
// NOTIFY_SOCKET receiver: the triggering connection is accepted (not lost), READY=1 and STATUS=
// arrive, SIGTERM sends STOPPING=1, and --exit-idle-time makes it exit cleanly by itself.
// No container engine is needed: it points at a socket that does not exist, so starts fail.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { freePort, knock, listenBacklog, nodeTs, startChild, tempDir, type Child } from './helpers.ts';

interface Received { pid: number | null; message: string }

async function activated(t: TestContext, extra: string[]): Promise<{ port: number; daemon: Child; received: () => Received[]; receiver: Child }> {
  const dir = tempDir(t);
  const notify = join(dir, 'notify.sock');
  const receiver = startChild(t, 'python3', ['test/systemd/fixtures/notify-receiver.py', notify]);
  await receiver.waitFor(/BOUND/);
  const port = await freePort();
  const daemon = startChild(t, 'systemd-socket-activate', [
    // systemd-socket-activate passes no environment but what -E names.
    '-E', `NOTIFY_SOCKET=${notify}`, '-E', `DOCKER_HOST=unix://${join(dir, 'no-engine.sock')}`, '-E', 'PATH',
    '-l', `127.0.0.1:${port}`, '--fdname=web',
    ...nodeTs('src/main.ts'), 'proxy', '--listen', `127.0.0.1:${port}`, '--container', 'absent', '--name', 'web', '--listen-from-systemd', ...extra,
  ]);
  await daemon.waitFor(/Listening on 127\.0\.0\.1:\d+ as 3/);
  const received = (): Received[] =>
    receiver.stdout().split('\n').slice(1).filter((l) => l !== '').map((l) => JSON.parse(l) as Received);
  return { port, daemon, received, receiver };
}

describe('portwake started by its socket', { timeout: 60_000 }, () => {
  it('leaves the backlog of the socket systemd passed alone (Backlog=)', async (t) => {
    const { port, daemon } = await activated(t, []);
    const given = listenBacklog(port);
    // systemd-socket-activate listens with SOMAXCONN; the old code re-listened with 1024.
    assert.notEqual(given, 1024, 'precondition: the passed socket\'s backlog is not the one portwake used to set');
    assert.equal(await knock(port), 'ended');
    await daemon.waitFor(/listening: web on systemd:web \(fd 3\)/);
    assert.equal(listenBacklog(port), given, 'the same backlog after portwake took the socket');
  });

  it('accepts the connection that started it, notifies, and stops on SIGTERM', async (t) => {
    const { port, daemon, received, receiver } = await activated(t, []);
    assert.equal(await knock(port), 'ended');
    await daemon.waitFor(/listening: web on systemd:web \(fd 3\)/);
    await receiver.waitFor(/STATUS=1 service/);
    daemon.process.kill('SIGTERM');
    assert.equal(await daemon.exited, 0, daemon.stderr());
    await receiver.waitFor(/STOPPING=1/);
    // systemd-notify (the fallback without the addon) adds its own BARRIER=1 handshakes.
    const messages = received().map((r) => r.message).filter((m) => m !== 'BARRIER=1');
    assert.equal(messages[0], 'READY=1');
    // The knock's start fails (there is no engine): the first status may already count it.
    assert.match(messages[1] ?? '', /^STATUS=1 service, 0 running, 0 starting(, 1 failed)?$/);
    assert.equal(messages.at(-1), 'STOPPING=1');
    const pids = received().filter((r) => r.message !== 'BARRIER=1').map((r) => r.pid);
    assert.ok(pids.every((pid) => pid === daemon.process.pid), `sent on behalf of portwake's own PID ${daemon.process.pid}: ${pids.join(', ')}`);
  });

  it('exits cleanly by itself after --exit-idle-time', async (t) => {
    const { port, daemon, receiver } = await activated(t, ['--exit-idle-time', '1s']);
    const knocked = Date.now();
    assert.equal(await knock(port), 'ended');
    assert.equal(await daemon.exited, 0, daemon.stderr());
    assert.ok(Date.now() - knocked >= 1_000);
    await receiver.waitFor(/STOPPING=1/);
  });
});
