// provider: command through the real CLI: `portwake run -c FILE` as a child process waking a busybox
// httpd on the first request and stopping it at SIGTERM, and `portwake check` on command services
// (a program that is there, one that is not). No container engine is involved.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { runCli, startCliDaemon } from '../support/cli-child.ts';
import { scratchDir } from '../support/file-daemon.ts';
import { freePorts } from '../support/free-port.ts';

/** No engine: a command service needs none, and nothing may try to reach one. */
const NO_ENGINE = { dockerHost: 'unix:///nonexistent/pwtest-no-engine.sock' };

const upstreamOpen = (port: number): Promise<boolean> => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(true); });
  s.on('error', () => resolve(false));
});

describe('CLI with provider: command', () => {
  it('portwake run: the first request starts the process, its output is logged, SIGTERM stops it with portwake', async (t) => {
    const dir = await scratchDir(t, 'pwtest-cmdcli-');
    await writeFile(join(dir, 'index.html'), 'hello from a command service\n');
    const [port, upstream] = await freePorts(2);
    const file = join(dir, 'portwake.yaml');
    await writeFile(file, [
      'services:',
      '  files:',
      '    provider: command',
      `    listen: 127.0.0.1:${port}`,
      `    run: [busybox, httpd, -f, -v, -p, "127.0.0.1:${upstream}", -h, ${JSON.stringify(dir)}]`,
      `    upstream: 127.0.0.1:${upstream}`,
      '    ready: {http: /index.html}',
      '',
    ].join('\n'));
    const child = await startCliDaemon(t, NO_ENGINE, ['run', '-c', file]);
    await child.waitForLog('the start-up check', (l) => l.msg.startsWith('start-up check: 1 service(s) ok'));
    assert.equal(await upstreamOpen(upstream), false, 'nothing runs before the first request');
    const res = await fetch(`http://127.0.0.1:${port}/index.html`);
    assert.equal(await res.text(), 'hello from a command service\n');
    // busybox httpd -v logs each request on stderr: it arrives prefixed with the service's name.
    await child.waitForLog('the httpd\'s own output', (l) => l.msg.startsWith('files: ') && l.msg.includes('response:200'));
    child.kill('SIGTERM');
    const exit = await child.exited;
    assert.equal(exit.code, 0, child.stderr());
    assert.equal(await upstreamOpen(upstream), false, 'the process went with portwake');
    assert.ok(child.logs.some((l) => /service "files": process \d+ .* exited with code 143 \(stopped by portwake\)/.test(l.msg)), child.stderr());
  });

  it('portwake check: ok for a program on PATH, a precise problem for one that is not', async (t) => {
    const dir = await scratchDir(t, 'pwtest-cmdcli-');
    const file = join(dir, 'portwake.yaml');
    await writeFile(file, [
      'services:',
      '  good:',
      '    provider: command',
      '    listen: 127.0.0.1:1',
      '    run: [busybox, httpd, -f]',
      '    upstream: 127.0.0.1:2',
      '  bad:',
      '    provider: command',
      '    listen: 127.0.0.1:3',
      '    run: [pwtest-no-such-program, --serve]',
      '    upstream: 127.0.0.1:4',
      '  managed:',
      '    provider: command',
      '    listen: 127.0.0.1:5',
      '    start: [sh, -c, "exit 0"]',
      '    stop: [sh, -c, "exit 0"]',
      '    status: [sh, -c, "exit 3"]',
      '    upstream: 127.0.0.1:6',
      '',
    ].join('\n'));
    const r = await runCli(t, NO_ENGINE, ['check', '-c', file]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /service "good": ok \(command: run \[busybox, httpd, -f\]\)/);
    assert.match(r.stdout, /service "bad": program "pwtest-no-such-program" is not on PATH \(.*\); give its absolute path or fix PATH/);
    assert.match(r.stdout, /service "managed": ok \(command: start\/stop\/status \[sh, -c, "exit 0"\]\)/);
    assert.doesNotMatch(r.stdout, /engine/, 'no container engine is asked');
  });
});
