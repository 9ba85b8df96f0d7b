// A really hung engine: a throwaway dockerd of this test's own (never the shared test engine),
// SIGSTOPped. It keeps accepting connections (the kernel does) and answers nothing.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { findBinary } from '../support/engine.ts';
import { connect, countingProvider, freePort, runDaemon, whenClosed } from '../support/daemon-harness.ts';
import { recordingLogger } from '../support/control-harness.ts';

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', timeout: 2_000 }, (res) => { res.resume(); resolve(res.statusCode === 200); });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Starts a dockerd of this test's own under a temporary directory; it is killed and removed after the test. */
async function throwawayDockerd(t: TestContext): Promise<{ socketPath: string; child: ChildProcess }> {
  // Short: the managed containerd's socket lives under the exec root (a socket path has 108 bytes).
  const dir = mkdtempSync('/tmp/pwh1-');
  const socketPath = join(dir, 'd.sock');
  const log = openSync(join(dir, 'dockerd.log'), 'w');
  const child = spawn(findBinary('dockerd') ?? 'dockerd', [
    '--data-root', join(dir, 'data'), '--exec-root', join(dir, 'x'), '--host', `unix://${socketPath}`,
    '--pidfile', join(dir, 'd.pid'), '--bridge=none', '--iptables=false', '--ip6tables=false',
  ], { stdio: ['ignore', log, log] });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // Should the test process end early (a timeout), the dockerd does not stay behind, stopped.
  const orphaned = (): void => { child.kill('SIGCONT'); child.kill('SIGTERM'); };
  process.once('exit', orphaned);
  t.after(async () => {
    process.off('exit', orphaned);
    child.kill('SIGCONT');
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
    rmSync(dir, { recursive: true, force: true });
  });
  const end = Date.now() + 60_000;
  while (!(await ping(socketPath))) {
    if (child.exitCode !== null || Date.now() > end) throw new Error(`throwaway dockerd did not come up:\n${readFileSync(join(dir, 'dockerd.log'), 'utf8').slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return { socketPath, child };
}

describe('a SIGSTOPped dockerd', { timeout: 120_000 }, () => {
  it('held clients are closed when startTimeout passes, with one line saying the engine did not answer', async (t) => {
    const { socketPath, child } = await throwawayDockerd(t);
    const port = await freePort();
    const host = `unix://${socketPath}`;
    const config = parseConfig(`engine: ${host}\nservices:\n  web:\n    listen: 127.0.0.1:${port}\n    container: pwtest-hung-web\n    startTimeout: 3s\n`, 'test.yaml');
    const logger = recordingLogger();
    const { daemon } = await runDaemon(t, { config, configPath: undefined, logger, provider: countingProvider({ dockerHost: host } as never /* only its host is read */, host), stopOnExit: false, graceMs: 500 });
    child.kill('SIGSTOP');
    const clients = await Promise.all(Array.from({ length: 5 }, () => connect({ host: '127.0.0.1', port })));
    const t0 = Date.now();
    const ends = await Promise.all(clients.map((s) => { const closed = whenClosed(s); s.write('GET / HTTP/1.0\r\n\r\n'); return closed; }));
    const waited = Math.max(...ends.map((e) => e.at)) - t0;
    assert.ok(ends.every((e) => e.how === 'ECONNRESET'), JSON.stringify(ends));
    assert.ok(waited >= 2_500 && waited < 20_000, `closed when startTimeout passed (${waited} ms)`);
    const lines = logger.lines.filter((l) => l.level !== 'debug' && /engine did not answer/.test(l.msg));
    assert.equal(lines.length, 1, JSON.stringify(logger.lines.map((l) => l.msg)));
    assert.match(lines[0]?.msg ?? '', /^service "web": docker start of container "pwtest-hung-web": engine did not answer within 3 s \(unix:\/\/\/tmp\/pwh1-/);
    assert.equal(daemon.status()[0]?.state, 'failed');
    assert.equal(daemon.status()[0]?.lastErrorCode, 'PROVIDER_TIMEOUT');
  });
});
