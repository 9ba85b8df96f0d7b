// The command provider with real processes: the shared provider contract in both modes (run:, and
// start:/stop:/status: driving a busybox httpd through shell scripts), then what only it has —
// output into the log, the PORTWAKE_* environment, unrunnable programs, commands that hang or fail.

import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { systemClock } from '../../src/core/clock.ts';
import { deadline } from '../../src/core/deadline.ts';
import { EngineTimeoutError, ProviderError } from '../../src/core/errors.ts';
import type { Logger } from '../../src/core/logger.ts';
import { CommandProvider } from '../../src/providers/command/provider.ts';
import { commandFixture, commandSpec, managedHttpd, nodeServer, sigtermIgnoringServer } from '../support/command-fixture.ts';
import { providerContract } from '../support/provider-contract.ts';

/** Records every log line (message and fields). */
function recorder(): Logger & { lines: Array<{ level: string; msg: string; obj: object }> } {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at = (level: string) => (obj: object, msg: string): void => { lines.push({ level, msg, obj }); };
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

const NO_ENGINE = 'the command provider runs local processes: there is no engine to be unreachable (ping always answers)';
const NO_HEALTH = 'a process has no HEALTHCHECK; the config refuses ready: health for a command service';

providerContract('command (run:)', commandFixture('run', recorder()), {
  skip: { health: NO_HEALTH, unreachable: NO_ENGINE },
});

providerContract('command (start:/stop:/status:)', commandFixture('manage', recorder()), {
  skip: {
    health: NO_HEALTH,
    unreachable: NO_ENGINE,
    'stop-grace': 'the stop: command decides how the service stops and how long it waits; portwake bounds the command itself by stopTimeout (tested below)',
    'events-crash': 'portwake does not watch a process an outside manager started: an exit is seen at the next inspect (a refused connection re-inspects), not as an event',
  },
});

function connected(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => { s.destroy(); resolve(); });
    s.on('error', reject);
  });
}

async function retry<T>(fn: () => Promise<T>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await delay(50);
    }
  }
}

describe('command provider, beyond the contract', () => {
  const dirs: string[] = [];
  const cleanup = (p: CommandProvider) => async (): Promise<void> => {
    await p.close(1000);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  };

  it('a run: process gets the PORTWAKE_* environment, and its output goes to the log line by line, prefixed', async (t) => {
    const log = recorder();
    const p = new CommandProvider({ logger: log, env: { ...process.env, PWTEST_INHERITED: 'yes' } });
    t.after(cleanup(p));
    const script = "console.log([process.env.PORTWAKE_SERVICE, process.env.PORTWAKE_LISTEN, process.env.PORTWAKE_UPSTREAM, process.env.PORTWAKE_UPSTREAM_HOST, process.env.PORTWAKE_UPSTREAM_PORT, process.env.PWTEST_INHERITED].join(' ')); process.stderr.write('partial'); setTimeout(() => process.stderr.write(' line\\nlast without newline'), 50);";
    const spec = await commandSpec({ kind: 'run', run: [process.execPath, '-e', script] }, dirs);
    spec.listen = ['127.0.0.1:8080', 'unix:/run/x.sock'];
    p.set(spec);
    assert.equal(await p.start(spec.name), true);
    const port = spec.upstream.kind === 'tcp' ? spec.upstream.port : 0;
    const exited = await retry(async () => {
      const line = log.lines.find((l) => l.msg.includes('exited with code'));
      if (line === undefined) throw new Error('not yet');
      return line;
    });
    assert.match(exited.msg, new RegExp(`service "${spec.name}": process \\d+ \\[.*node.*\\] exited with code 0`));
    const output = log.lines.filter((l) => (l.obj as { stream?: string }).stream !== undefined).map((l) => l.msg);
    assert.ok(output.includes(`${spec.name}: ${spec.name} 127.0.0.1:8080,unix:/run/x.sock 127.0.0.1:${port} 127.0.0.1 ${port} yes`), JSON.stringify(output));
    assert.ok(output.includes(`${spec.name}: partial line`), JSON.stringify(output));
    assert.ok(output.includes(`${spec.name}: last without newline`), JSON.stringify(output));
    const info = await p.inspect(spec.name);
    assert.equal(info.running, false);
    assert.equal(info.exitCode, 0);
  });

  it('a run: process that exits by itself is seen stopped; the next start runs it again', async (t) => {
    const p = new CommandProvider({ logger: recorder(), env: process.env });
    t.after(cleanup(p));
    const spec = await commandSpec({ kind: 'run', run: nodeServer({ crashAfterMs: 200 }) }, dirs);
    p.set(spec);
    await p.start(spec.name);
    await retry(async () => { if ((await p.inspect(spec.name)).running) throw new Error('still running'); });
    assert.equal((await p.inspect(spec.name)).exitCode, 1);
    assert.equal(await p.start(spec.name), true);
    assert.equal((await p.inspect(spec.name)).running, true);
  });

  it('a program that cannot be run is a ProviderError naming it', async (t) => {
    const p = new CommandProvider({ logger: recorder(), env: process.env });
    t.after(cleanup(p));
    const spec = await commandSpec({ kind: 'run', run: ['/no/such/program', '-x'] }, dirs);
    p.set(spec);
    const err = await p.start(spec.name).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ProviderError, String(err));
    assert.match(err.message, /cannot run \[\/no\/such\/program, -x\]: .*ENOENT.*check run:/);
    assert.equal((await p.inspect(spec.name)).running, false);
  });

  it('SIGTERM goes to the whole process group: a server a shell started stops with it', async (t) => {
    const p = new CommandProvider({ logger: recorder(), env: process.env });
    t.after(cleanup(p));
    const spec = await commandSpec((dir) => ({ kind: 'run', run: ['sh', '-c', `busybox httpd -f -p 127.0.0.1:$PORTWAKE_UPSTREAM_PORT -h ${dir} & wait`] }), dirs);
    p.set(spec);
    await p.start(spec.name);
    const port = spec.upstream.kind === 'tcp' ? spec.upstream.port : 0;
    await retry(() => connected(port));
    await p.stop(spec.name, 5);
    // The group's SIGTERM (and the SIGKILL of what is left once the shell exits) ends the httpd too.
    await retry(() => assert.rejects(connected(port), /ECONNREFUSED/), 5_000);
  });

  it('a start: command that hangs is killed at the deadline and reported as a timeout', async (t) => {
    const p = new CommandProvider({ logger: recorder(), env: process.env });
    t.after(cleanup(p));
    const spec = await commandSpec((dir) => managedHttpd(dir, { startHangs: true }), dirs);
    p.set(spec);
    const limit = deadline(systemClock, 2000);
    const t0 = Date.now();
    const err = await p.start(spec.name, limit.signal).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof EngineTimeoutError, String(err));
    assert.match(err.message, /^start command \[sh, -c, .*sleep 600.*\] did not finish within 2s; killed it$/);
    assert.ok(Date.now() - t0 < 5_000, `took ${Date.now() - t0}ms`);
    assert.equal((await p.inspect(spec.name)).running, false);
  });

  it('a start: command that fails says its exit code and its last line of output', async (t) => {
    const p = new CommandProvider({ logger: recorder(), env: process.env });
    t.after(cleanup(p));
    const spec = await commandSpec((dir) => managedHttpd(dir, { startFails: true }), dirs);
    p.set(spec);
    const err = await p.start(spec.name).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof ProviderError, String(err));
    assert.match(err.message, /^start command \[sh, -c, .*\] exited with code 3 \(last output: no such unit\)$/);
  });

  it('a stop: command that hangs is killed after stopTimeout and reported', async (t) => {
    const p = new CommandProvider({ logger: recorder(), env: process.env });
    const spec = await commandSpec((dir) => managedHttpd(dir, { stopHangs: true }), dirs);
    const fixed = managedHttpd(dirs[dirs.length - 1] ?? '');
    t.after(async () => {
      p.set({ ...spec, command: fixed });
      await p.stop(spec.name, 5);
      await cleanup(p)();
    });
    p.set(spec);
    assert.equal(await p.start(spec.name), true);
    const t0 = Date.now();
    const err = await p.stop(spec.name, 1).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof EngineTimeoutError, String(err));
    assert.match(err.message, /^stop command \[sh, -c, .*\] did not finish within 1s; killed it$/);
    assert.ok(Date.now() - t0 >= 900 && Date.now() - t0 < 10_000, `took ${Date.now() - t0}ms`);
  });

  it('close() stops every run: process, a SIGTERM-ignoring one by SIGKILL after the grace', async () => {
    const p = new CommandProvider({ logger: recorder(), env: process.env });
    const a = await commandSpec({ kind: 'run', run: nodeServer() }, dirs);
    const b = await commandSpec((dir) => ({ kind: 'run', run: sigtermIgnoringServer(dir) }), dirs);
    p.set(a);
    p.set(b);
    await Promise.all([p.start(a.name), p.start(b.name)]);
    // Both set up (b's shell has set SIGTERM aside once its httpd answers).
    await Promise.all([a, b].map((x) => retry(() => connected(x.upstream.kind === 'tcp' ? x.upstream.port : 0))));
    await p.close(300);
    assert.equal((await p.inspect(a.name)).exitCode, 143);
    assert.equal((await p.inspect(b.name)).exitCode, 137);
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
});
