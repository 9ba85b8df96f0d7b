// What `portwake` loads, seen from outside: the real CLI as a child process with NODE_DEBUG=module
// (which names every CommonJS module it loads), against a fake engine that records requests. A
// daemon whose services are all stopped loads no Docker client and asks the engine nothing; the
// control API's modules come only with control:, pino-pretty only for a terminal; the short
// commands load neither the config loader nor the daemon.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'main.ts');

interface Child {
  /** Every stderr line so far. */
  lines(): string[];
  /** Packages loaded so far (from node_modules), by name. */
  packages(): Set<string>;
  waitFor(what: string, pred: (line: string) => boolean): Promise<void>;
  exited: Promise<number | null>;
}

function spawnPortwake(t: TestContext, args: readonly string[]): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    env: { ...process.env, NODE_DEBUG: 'module', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  t.after(() => { proc.kill('SIGKILL'); });
  let text = '';
  const waiters = new Set<() => void>();
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    text += chunk;
    for (const w of [...waiters]) w();
  });
  const exited = new Promise<number | null>((resolve) => proc.once('close', (code) => {
    resolve(code);
    for (const w of [...waiters]) w();
  }));
  const lines = (): string[] => text.split('\n');
  return {
    lines,
    packages: () => new Set([...text.matchAll(/load "[^"]*\/node_modules\/((?:@[^/"]+\/)?[^/"]+)\//g)].map((m) => m[1] ?? '')),
    exited,
    waitFor: (what, pred) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => done(new Error(`timed out waiting for ${what}:\n${lines().filter((l) => !l.startsWith('MODULE')).join('\n')}`)), 20_000);
      const check = (): void => {
        if (lines().some(pred)) done();
        else if (proc.exitCode !== null) done(new Error(`portwake exited (${proc.exitCode}) before ${what}:\n${lines().filter((l) => !l.startsWith('MODULE')).join('\n')}`));
      };
      function done(err?: Error): void {
        clearTimeout(timer);
        waiters.delete(check);
        if (err === undefined) resolve();
        else reject(err);
      }
      waiters.add(check);
      check();
    }),
  };
}

/** An engine that answers pings, knows no container and holds GET /events open, recording every request. */
async function fakeEngine(t: TestContext, dir: string): Promise<{ host: string; requests: string[] }> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    requests.push(`${req.method ?? '?'} ${(req.url ?? '').replace(/\?.*/, '')}`);
    if ((req.url ?? '').startsWith('/events')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      return;
    }
    if ((req.url ?? '').startsWith('/_ping')) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('OK');
      return;
    }
    res.writeHead(404, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ message: 'No such container' }));
  });
  const path = join(dir, 'engine.sock');
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => { server.closeAllConnections(); server.close(); });
  return { host: `unix://${path}`, requests };
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(Array.from({ length: n }, () => new Promise<ReturnType<typeof createNetServer>>((resolve) => {
    const s = createNetServer();
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function scratch(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'pwtest-lazy-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const listening = (l: string): boolean => l.includes('"msg":"listening:');

describe('what portwake loads', { timeout: 60_000 }, () => {
  it('run: no engine request while every service is stopped but the start-up check; the first connection starts and follows events without loading a Docker client package', async (t) => {
    const dir = scratch(t);
    const engine = await fakeEngine(t, dir);
    const [a = 0, b = 0] = await freePorts(2);
    const config = join(dir, 'portwake.yaml');
    writeFileSync(config, `engine: ${engine.host}\nservices:\n  a: {listen: "127.0.0.1:${a}", container: pwtest-absent-a}\n  b: {listen: "127.0.0.1:${b}", container: pwtest-absent-b}\n`);
    const child = spawnPortwake(t, ['run', '-c', config]);
    await child.waitFor('listening', listening);
    await new Promise((r) => setTimeout(r, 300));
    const idle = child.packages();
    for (const heavy of ['dockerode', 'docker-modem', 'ssh2', '@grpc/grpc-js', 'prom-client', 'pino-pretty']) assert.ok(!idle.has(heavy), `${heavy} loaded by an idle daemon`);
    // Only the start-up check (what `portwake check` asks): a ping and one inspect per service.
    await child.waitFor('the start-up check', (l) => l.includes('"msg":"start-up check: 0 service(s) ok'));
    assert.deepEqual([...engine.requests].sort(), ['GET /_ping', 'GET /containers/pwtest-absent-a/json', 'GET /containers/pwtest-absent-b/json'], 'nothing else asked of the engine');

    const socket = connect({ host: '127.0.0.1', port: a });
    t.after(() => socket.destroy());
    await child.waitFor('the failed start', (l) => l.includes('pwtest-absent-a') && l.includes('"level":50'));
    const active = child.packages();
    for (const heavy of ['dockerode', 'docker-modem', 'ssh2', '@grpc/grpc-js']) assert.ok(!active.has(heavy), `${heavy} loaded by the first start`);
    assert.ok(engine.requests.includes('GET /events'), `events followed: ${engine.requests.join(', ')}`);
    assert.ok(engine.requests.includes('POST /containers/pwtest-absent-a/start'), engine.requests.join(', '));
  });

  it('run with control: loads the control API (prom-client), still no Docker client', async (t) => {
    const dir = scratch(t);
    const engine = await fakeEngine(t, dir);
    const [a = 0] = await freePorts(1);
    const config = join(dir, 'portwake.yaml');
    writeFileSync(config, `engine: ${engine.host}\ncontrol: {listen: "unix:${join(dir, 'control.sock')}"}\nservices:\n  a: {listen: "127.0.0.1:${a}", container: pwtest-absent-a}\n`);
    const child = spawnPortwake(t, ['run', '-c', config]);
    await child.waitFor('listening', listening);
    const loaded = child.packages();
    assert.ok(loaded.has('prom-client'));
    assert.ok(!loaded.has('dockerode'));
  });

  it('wait-port and status load neither the config loader nor the Docker client', async (t) => {
    const [closed = 0] = await freePorts(1);
    for (const args of [['wait-port', `127.0.0.1:${closed}`, '--timeout', '200ms'], ['status', '--control', `127.0.0.1:${closed}`]]) {
      const child = spawnPortwake(t, args);
      assert.equal(await child.exited, 1, args.join(' '));
      const loaded = child.packages();
      for (const heavy of ['yaml', 'dockerode', 'prom-client']) assert.ok(!loaded.has(heavy), `${args[0] ?? ''} loaded ${heavy}`);
    }
  });
});
