// SIGHUP to `portwake run --listen-from-systemd` started by systemd-socket-activate: the reload keeps
// the socket systemd passed (and its backlog) and applies the rest; a changed `listen:` is not
// applied and the log says what would apply it; a new service is refused (it needs a restart).
// No container engine is needed: the service points at an engine socket that does not exist.

import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, freePorts, knock, listenBacklog, nodeTs, startChild, tempDir } from './helpers.ts';

const yaml = (services: Record<string, { listen: string; extra?: string }>): string =>
  'services:\n' + Object.entries(services).map(([name, s]) => `  ${name}:\n    listen: ${s.listen}\n    container: absent-${name}\n${s.extra ?? ''}`).join('');

describe('reloading portwake started by its socket (systemd-socket-activate)', { timeout: 90_000 }, () => {
  it('SIGHUP keeps the passed socket and applies the rest; a changed listen: is left for a restart, a new service refused', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'portwake.yaml');
    const [port, other] = await freePorts(2);
    writeFileSync(file, yaml({ web: { listen: `127.0.0.1:${port}`, extra: '    idleTimeout: 5m\n' } }));
    const daemon = startChild(t, 'systemd-socket-activate', [
      '-E', `DOCKER_HOST=unix://${join(dir, 'no-engine.sock')}`, '-E', 'PATH',
      '-l', `127.0.0.1:${port}`, '--fdname=web',
      ...nodeTs('src/main.ts'), 'run', '-c', file, '--listen-from-systemd',
    ]);
    await daemon.waitFor(/Listening on 127\.0\.0\.1:\d+ as 3/);
    const backlog = listenBacklog(port);
    assert.equal(await knock(port), 'ended');
    await daemon.waitFor(/listening: web on systemd:web \(fd 3\)/);

    writeFileSync(file, yaml({ web: { listen: `127.0.0.1:${port}`, extra: '    idleTimeout: 6m\n    maxConnections: 50\n' } }));
    daemon.process.kill('SIGHUP');
    await daemon.waitFor(/config reloaded: 0 added, 0 removed, 1 changed \(1 in place\)|reload rejected/);
    assert.doesNotMatch(daemon.stdout() + daemon.stderr(), /reload rejected/);
    assert.equal(await knock(port), 'ended', 'the passed socket still accepts');
    assert.equal(listenBacklog(port), backlog, 'with the backlog systemd gave it');

    writeFileSync(file, yaml({ web: { listen: `127.0.0.1:${other}`, extra: '    idleTimeout: 6m\n    maxConnections: 50\n' } }));
    daemon.process.kill('SIGHUP');
    await daemon.waitFor(/listen changed \(127\.0\.0\.1:\d+ → 127\.0\.0\.1:\d+\), but its sockets come from systemd \(--listen-from-systemd\) and stay as they are\. To apply it: .*portwake generate systemd/);
    await daemon.waitFor(/config reloaded[\s\S]*config reloaded/);
    assert.equal(await knock(port), 'ended', 'still served on the socket systemd passed');
    assert.notEqual(await knock(other), 'ended', 'the new address is not listened on by portwake itself');

    writeFileSync(file, yaml({ web: { listen: `127.0.0.1:${other}` }, api: { listen: `127.0.0.1:${await freePort()}` } }));
    daemon.process.kill('SIGHUP');
    await daemon.waitFor(/reload rejected, the running config stays in force.*service \\?"api\\?" is new, and with --listen-from-systemd its sockets come from systemd/);
    assert.equal(await knock(port), 'ended');

    daemon.process.kill('SIGTERM');
    assert.equal(await daemon.exited, 0, daemon.stderr());
  });
});
