// `npm run demo` with its output redirected (a pipe, as into a file): one full cycle against the
// real engine, exit 0, its own container and image names (not the tests'), and not one ANSI escape
// sequence in what it printed.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { getEngine } from '../support/engine.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('the demo', { timeout: 180_000 }, () => {
  it('redirected: runs one cycle and prints no escape sequences (no terminal, NO_COLOR unset)', async (t) => {
    const engine = await getEngine();
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: engine.dockerHost };
    delete env['NO_COLOR'];
    const proc = spawn(process.execPath, ['--import', 'tsx', 'examples/demo/demo.ts', '--once'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => { if (proc.exitCode === null) proc.kill('SIGKILL'); });
    let out = '';
    proc.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    proc.stderr.setEncoding('utf8').on('data', (s: string) => { out += s; });
    const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
    assert.equal(code, 0, out);
    assert.match(out, /▶ The container is stopped again/);
    assert.match(out, /container portwake-demo-\d+-[0-9a-f]{8} from portwake-demo\/nginx:/, 'the demo names its own container and image');
    assert.ok(!out.includes('\x1b['), 'no ANSI escape sequence in redirected output');
  });
});
