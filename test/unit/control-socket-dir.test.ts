// The control API's unix socket in a directory that does not exist yet: created, or an error that
// names the directory (not the EACCES that binding into a missing directory reports).

import assert from 'node:assert/strict';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { PortwakeError } from '../../src/core/errors.ts';
import { startControlServer } from '../../src/control/server.ts';
import { FakeDaemonControl } from '../support/fake-daemon-control.ts';
import { http, recordingLogger, startHarness, tempDir } from '../support/control-harness.ts';

describe('the control socket\'s directory', () => {
  it('is created when missing, parents too, and the API serves there', async (t) => {
    const dir = await tempDir(t);
    const path = join(dir, 'run', 'portwake', 'control.sock');
    const h = await startHarness(t, { listen: { kind: 'unix', path, mode: 0o660 } });
    assert.ok((await stat(join(dir, 'run', 'portwake'))).isDirectory());
    assert.ok((await stat(path)).isSocket());
    assert.equal((await http(h.target, 'GET', '/status')).status, 200);
  });

  it('that cannot be created is named in the error, with how to fix it', async (t) => {
    const dir = await tempDir(t);
    const file = join(dir, 'not-a-dir');
    await writeFile(file, 'x');
    const path = join(file, 'sub', 'control.sock');
    await assert.rejects(
      startControlServer({ config: { listen: { kind: 'unix', path, mode: 0o660 }, token: undefined }, control: new FakeDaemonControl(), logger: recordingLogger() }),
      (err: unknown) => err instanceof PortwakeError && err.code === 'LISTEN_FAILED' &&
        err.message.startsWith(`control API: cannot listen on unix:${path}: its directory ${join(file, 'sub')} does not exist and cannot be created (`) &&
        err.message.includes(`mkdir -p ${join(file, 'sub')}`) && !err.message.includes('EACCES'),
    );
  });
});
