// `portwake status|start|stop|events` against a running control server over a unix socket and TCP:
// the table, --json, colours only on a terminal and never with NO_COLOR, tokens, config lookup.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { register, type StatusCommandDeps } from '../../src/cli/status.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { ControlClientError } from '../../src/control/client.ts';
import { FakeDaemonControl, service } from '../support/fake-daemon-control.ts';
import { startHarness, tempDir, type Harness } from '../support/control-harness.ts';

const NOW = Date.UTC(2025, 0, 31, 12, 0, 0);
const ESC = '\x1b[';
const hasEscape = (s: string): boolean => s.includes(ESC);
const stripEscapes = (s: string): string => s.split(ESC).map((part, i) => (i === 0 ? part : part.replace(/^\d+m/, ''))).join('');

function fixture(): FakeDaemonControl {
  return new FakeDaemonControl([
    service('web', { state: 'ready', openConnections: 3, heldConnections: 1, lastActivity: NOW - 12_000,
      lastStart: { at: NOW - 300_000, containerStartMs: 350, readinessMs: 1450, startedByUs: true } }),
    service('db', { state: 'stopped', lastActivity: NOW - 7_200_000 }),
    service('api', { state: 'failed', lastError: 'container "api" not ready after 1m', lastErrorCode: 'READY_TIMEOUT' }),
  ]);
}

interface Run { out: string; run(...args: string[]): Promise<void> }

function cli(overrides: Partial<StatusCommandDeps> & { isTTY?: boolean } = {}): Run {
  const r: Run = {
    out: '',
    async run(...args) {
      const program = new Command('portwake').exitOverride();
      const { isTTY, ...rest } = overrides;
      register(program, {
        loadConfig: () => { throw new Error('no config in this test'); },
        stdout: { write: (s: string) => { r.out += s; }, isTTY: isTTY ?? false },
        env: {},
        now: () => NOW,
        ...rest,
      });
      await program.parseAsync(args, { from: 'user' });
    },
  };
  return r;
}

async function unixHarness(t: Parameters<typeof startHarness>[0], control = fixture(), token?: string): Promise<Harness & { addr: string }> {
  const path = join(await tempDir(t), 'control.sock');
  const h = await startHarness(t, { listen: { kind: 'unix', path, mode: 0o660 }, control, ...(token === undefined ? {} : { token }) });
  return { ...h, addr: h.server.address };
}

describe('portwake status', () => {
  it('prints a table of services with failures below it', async (t) => {
    const h = await unixHarness(t);
    const c = cli();
    await c.run('status', '--control', h.addr);
    // The server stamps "now"; the table is relative to the daemon's clock.
    const lines = c.out.trimEnd().split('\n');
    assert.match(lines[0] ?? '', /^SERVICE +STATE +CONNECTIONS +LAST ACTIVITY +LAST COLD START$/);
    assert.match(lines[1] ?? '', /^web +ready +3 \(1 held\) +\S.* ago +1\.8s, .* ago$/);
    assert.match(lines[2] ?? '', /^db +stopped +0 +.* ago +-$/);
    assert.match(lines[3] ?? '', /^api +failed +0 +never +-$/);
    assert.equal(lines[4], 'api: READY_TIMEOUT container "api" not ready after 1m');
    const col = (lines[0] ?? '').indexOf('STATE');
    assert.ok(lines.slice(1, 4).every((l) => /^\S+ +$/.test(l.slice(0, col)) && l[col] !== ' '), 'columns line up');
    assert.ok(!hasEscape(c.out));
  });

  it('prints the raw status with --json', async (t) => {
    const h = await unixHarness(t);
    const c = cli();
    await c.run('status', '--json', '--control', h.addr);
    const body = JSON.parse(c.out) as { services: { name: string; state: string; lastErrorCode: string | null }[] };
    assert.deepEqual(body.services.map((s) => [s.name, s.state, s.lastErrorCode]), [['web', 'ready', null], ['db', 'stopped', null], ['api', 'failed', 'READY_TIMEOUT']]);
  });

  it('colours states on a terminal, never with NO_COLOR or off a terminal', async (t) => {
    const h = await unixHarness(t);
    const tty = cli({ isTTY: true });
    await tty.run('status', '--control', h.addr);
    assert.ok(tty.out.includes(`${ESC}32mready${ESC}39m`));
    assert.ok(tty.out.includes(`${ESC}31mfailed${ESC}39m`));
    const lines = stripEscapes(tty.out).split('\n');
    assert.match(lines[1] ?? '', /^web +ready +3 \(1 held\)/, 'padding ignores escape codes');

    const noColor = cli({ isTTY: true, env: { NO_COLOR: '1' } });
    await noColor.run('status', '--control', h.addr);
    assert.ok(!hasEscape(noColor.out));
    const emptyNoColor = cli({ isTTY: true, env: { NO_COLOR: '' } });
    await emptyNoColor.run('status', '--control', h.addr);
    assert.ok(hasEscape(emptyNoColor.out), 'NO_COLOR="" does not count (no-color.org)');
  });

  it('works over TCP with a token from --token or PORTWAKE_TOKEN', async (t) => {
    const h = await startHarness(t, { control: fixture(), token: 'tok' });
    await assert.rejects(cli().run('status', '--control', h.server.address),
      (err: unknown) => err instanceof ControlClientError && err.code === 'CONTROL_REFUSED' && /PORTWAKE_TOKEN/.test(err.message));
    await assert.rejects(cli().run('status', '--control', h.server.address, '--token', 'nope'), /refused GET \/status: wrong token/);
    const viaFlag = cli();
    await viaFlag.run('status', '--control', h.server.address, '--token', 'tok');
    assert.match(viaFlag.out, /^web +ready/m);
    const viaEnv = cli({ env: { PORTWAKE_TOKEN: 'tok' } });
    await viaEnv.run('status', '--control', h.server.address);
    assert.match(viaEnv.out, /^web +ready/m);
  });

  it('reads the token from --token-file or the config\'s control.tokenFile; --token works but warns that /proc shows it', async (t) => {
    const h = await startHarness(t, { control: fixture(), token: 'tok' });
    const dir = await tempDir(t);
    const file = join(dir, 'token');
    await writeFile(file, 'tok\n', { mode: 0o600 });
    const viaFile = cli();
    await viaFile.run('start', 'web', '--control', h.server.address, '--token-file', file);
    assert.match(viaFile.out, /^web: ready/m);

    let warnings = '';
    const viaFlag = cli({ stderr: { write: (s: string) => { warnings += s; } } });
    await viaFlag.run('status', '--control', h.server.address, '--token', 'tok');
    assert.match(viaFlag.out, /^web +ready/m);
    assert.match(warnings, /--token is visible to every user of this machine \(ps, \/proc\/\d+\/cmdline\); use --token-file FILE or PORTWAKE_TOKEN/);

    const config: PortwakeConfig = { source: '/etc/portwake.yaml', services: [], engineHost: undefined,
      control: { listen: { kind: 'tcp', host: '127.0.0.1', port: Number(h.server.address.split(':').at(-1)) }, token: undefined, tokenFile: file } };
    const viaConfig = cli({ loadConfig: () => config });
    await viaConfig.run('status', '-c', '/etc/portwake.yaml');
    assert.match(viaConfig.out, /^web +ready/m);

    await assert.rejects(cli().run('status', '--control', h.server.address, '--token-file', join(dir, 'missing')),
      (err: unknown) => err instanceof PortwakeError && err.code === 'CONFIG_INVALID' && /--token-file .*missing: cannot read the token/.test(err.message));
  });

  it('finds the address and token in the config file', async (t) => {
    const h = await unixHarness(t, fixture(), 'from-config');
    const path = h.addr.slice('unix:'.length);
    const seen: string[] = [];
    const config: PortwakeConfig = { source: '/etc/portwake.yaml', services: [], engineHost: undefined,
      control: { listen: { kind: 'unix', path, mode: 0o660 }, token: 'from-config' } };
    const c = cli({ loadConfig: (p) => { seen.push(p); return config; } });
    await c.run('status', '-c', '/etc/portwake.yaml');
    assert.deepEqual(seen, ['/etc/portwake.yaml']);
    assert.match(c.out, /^web +ready/m);

    const withDefault = cli({ loadConfig: (p) => { seen.push(p); return config; }, defaultConfigPath: '/etc/default.yaml' });
    await withDefault.run('status');
    assert.equal(seen.at(-1), '/etc/default.yaml');

    const noControl = cli({ loadConfig: () => ({ ...config, control: undefined }) });
    await assert.rejects(noControl.run('status', '-c', 'x.yaml'), /has no control: section/);
    await assert.rejects(cli().run('status'), (err: unknown) => err instanceof PortwakeError && err.code === 'USAGE');
    await assert.rejects(cli().run('status', '--control', 'nonsense'), /expected unix:\/path or HOST:PORT/);
  });

  it('says clearly when the daemon is not there', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(cli().run('status', '--control', `unix:${join(dir, 'none.sock')}`),
      (err: unknown) => err instanceof ControlClientError && err.code === 'CONTROL_UNREACHABLE' && err.message.includes('none.sock'));
  });
});

describe('portwake start / stop / events', () => {
  it('starts and stops a service and reports failures with the daemon\'s message', async (t) => {
    const h = await unixHarness(t);
    const c = cli();
    await c.run('start', 'db', '--control', h.addr);
    await c.run('stop', 'db', '--control', h.addr);
    assert.match(c.out, /^db: ready \(took \d+ms\)\ndb: stopped \(took \d+ms\)\n$/);
    assert.deepEqual(h.control.calls, ['start db', 'stop db']);
    await assert.rejects(cli().run('start', 'nope', '--control', h.addr),
      (err: unknown) => err instanceof ControlClientError && err.apiCode === 'UNKNOWN_SERVICE' && /no service "nope"/.test(err.message));
  });

  it('follows events one line each until stopped', async (t) => {
    const h = await unixHarness(t);
    const stop = new AbortController();
    const c = cli({ signal: stop.signal });
    const running = c.run('events', '--control', h.addr);
    while (h.control.listeners.size < 2) await new Promise((r) => setTimeout(r, 5));
    h.control.setState('db', 'starting', NOW);
    h.control.emit({ type: 'activated', service: 'db', timings: { at: NOW, containerStartMs: 300, readinessMs: 900, startedByUs: true }, firstWaitMs: 1250, at: NOW + 1200 });
    h.control.emit({ type: 'failed', service: 'api', code: 'CONTAINER_EXITED', message: 'container "api" exited during start with code 1', at: NOW + 1300 });
    while (c.out.split('\n').length < 4) await new Promise((r) => setTimeout(r, 5));
    stop.abort();
    await running;
    assert.deepEqual(c.out.trimEnd().split('\n'), [
      '2025-01-31T12:00:00.000Z  db  state      stopped -> starting',
      '2025-01-31T12:00:01.200Z  db  activated  ready in 1.2s (container 300ms + readiness 900ms), first connection waited 1.3s',
      '2025-01-31T12:00:01.300Z  api  failed     CONTAINER_EXITED: container "api" exited during start with code 1',
    ]);
    while (h.control.listeners.size > 1) await new Promise((r) => setTimeout(r, 5));
  });
});
