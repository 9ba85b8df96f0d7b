// `portwake generate systemd` on the command line: config file or proxy flags in, units printed or
// written to a directory (which then passes systemd-analyze verify), and the usage errors.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { Command } from 'commander';
import { register, type GenerateDeps } from '../../src/cli/generate.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';
import { DEFAULTS } from '../../src/config/types.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { nodeTs, startChild, tempDir } from './helpers.ts';

const CONFIG: PortwakeConfig = {
  source: '/etc/portwake.yaml',
  engineHost: undefined,
  control: undefined,
  services: [{
    name: 'web', listen: [{ kind: 'tcp', host: undefined, port: 80, text: '80' }], container: 'nginx8080', port: undefined,
    upstream: { kind: 'tcp', host: '127.0.0.1', port: 8080 }, ready: { kind: 'tcp' }, startTimeoutMs: DEFAULTS.startTimeoutMs,
    idleTimeoutMs: 300_000, stopTimeoutMs: DEFAULTS.stopTimeoutMs, maxConnections: DEFAULTS.maxConnections, maxPending: DEFAULTS.maxPending,
  }],
};

async function run(args: string[], over: Partial<GenerateDeps> = {}): Promise<{ out: string; loaded: string[]; flags: string[][] }> {
  let out = '';
  const loaded: string[] = [];
  const flags: string[][] = [];
  const program = new Command('portwake').exitOverride().configureOutput({ writeErr: () => undefined });
  register(program, {
    stdout: { write: (s: string) => (out += s) },
    env: { PATH: '/nonexistent:/usr/local/bin:/usr/bin' },
    loadConfig: (path) => {
      loaded.push(path);
      return { ...CONFIG, source: path };
    },
    proxyConfig: (a) => {
      flags.push([...a]);
      return { ...CONFIG, source: '<flags>' };
    },
    portwakeCommand: ['/usr/local/bin/portwake'],
    isExecutable: (p) => p === '/usr/bin/docker' || p === '/lib/systemd/systemd-socket-proxyd',
    ...over,
  });
  await program.parseAsync(['node', 'portwake', 'generate', 'systemd', ...args]);
  return { out, loaded, flags };
}

describe('portwake generate systemd (command line)', { timeout: 60_000 }, () => {
  it('prints the units for a config file, with its absolute path in ExecStart=', async () => {
    const r = await run(['--config', 'relative/portwake.yaml', '--exit-idle-time', '10m', '--watchdog', '0s']);
    assert.deepEqual(r.loaded, ['relative/portwake.yaml']);
    assert.match(r.out, /^### portwake\.socket\n# Generated/);
    assert.match(r.out, /\n### portwake\.service\n/);
    assert.match(r.out, new RegExp(`ExecStart=/usr/local/bin/portwake run --config ${process.cwd()}/relative/portwake\\.yaml --listen-from-systemd --exit-idle-time 10m\\n`));
    assert.doesNotMatch(r.out, /WatchdogSec/);
  });

  it('takes the proxy flags after "--" and repeats them in ExecStart=', async () => {
    const r = await run(['--name', 'web', '--', '--listen', '80', '--container', 'nginx8080']);
    assert.deepEqual(r.flags, [['--listen', '80', '--container', 'nginx8080']]);
    assert.match(r.out, /### web\.socket\n/);
    assert.match(r.out, /ExecStart=\/usr\/local\/bin\/portwake proxy --listen 80 --container nginx8080 --listen-from-systemd\n/);
  });

  it('writes the recipe into a directory, finding docker in PATH and systemd-socket-proxyd', async (t) => {
    const dir = join(tempDir(t), 'units');
    const r = await run(['--style', 'recipe', '-o', dir, '--config', '/etc/portwake.yaml']);
    assert.deepEqual(readdirSync(dir).sort(), ['web-docker.service', 'web-proxy.service', 'web-proxy.socket']);
    assert.equal(r.out, [
      `wrote ${dir}/web-proxy.socket`, `wrote ${dir}/web-proxy.service`, `wrote ${dir}/web-docker.service`,
      'next: systemctl daemon-reload && systemctl enable --now web-proxy.socket', '',
    ].join('\n'));
    const docker = readFileSync(join(dir, 'web-docker.service'), 'utf8');
    assert.match(docker, /ExecStart=\/usr\/bin\/docker start -a nginx8080\n/);
    assert.match(docker, /ExecStartPost=\/usr\/local\/bin\/portwake wait-port 127\.0\.0\.1:8080 --container nginx8080 --timeout 1m\n/);
    assert.match(readFileSync(join(dir, 'web-proxy.service'), 'utf8'), /ExecStart=\/lib\/systemd\/systemd-socket-proxyd --connections-max=4096 --exit-idle-time=5m 127\.0\.0\.1:8080\n/);
  });

  it('carries the engine it was pointed at into the units, unless the config names its own', async () => {
    const env = { PATH: '/usr/bin', DOCKER_HOST: 'unix:///srv/engine/docker.sock' };
    const portwake = await run(['--config', '/etc/portwake.yaml'], { env });
    assert.match(portwake.out, /\nEnvironment=DOCKER_HOST=unix:\/\/\/srv\/engine\/docker\.sock\n/);
    const byDefault = await run(['--config', '/etc/portwake.yaml'], { env: { PATH: '/usr/bin', DOCKER_HOST: 'unix:///var/run/docker.sock' } });
    assert.doesNotMatch(byDefault.out, /Environment=/, 'the default engine needs no line');
    const own = { ...CONFIG, engineHost: 'tcp://10.0.0.9:2375' };
    const configured = await run(['--config', '/etc/portwake.yaml'], { env, loadConfig: () => own });
    assert.doesNotMatch(configured.out, /Environment=/, 'portwake reads engine: from the config itself');
    const recipe = await run(['--style', 'recipe', '--config', '/etc/portwake.yaml'], { env, loadConfig: () => own });
    assert.match(recipe.out, /### web-docker\.service\n[\s\S]*?\[Service\]\nEnvironment=DOCKER_HOST=tcp:\/\/10\.0\.0\.9:2375\nExecStart=\/usr\/bin\/docker start -a nginx8080\n/, 'docker and wait-port read no config: the recipe carries its engine');
  });

  it('refuses to write ExecStart= that runs portwake from its source tree through tsx, pointing to the installed command', async () => {
    const fromSource = ['/usr/bin/node', '--import', 'tsx', '/home/me/portwake/src/main.ts'];
    for (const style of ['portwake', 'recipe']) {
      await assert.rejects(
        run(['--style', style, '--config', '/etc/portwake.yaml'], { portwakeCommand: fromSource }),
        (e: unknown) => e instanceof PortwakeError && e.code === 'USAGE' && /runs from its source tree/.test(e.message) && /npm install -g/.test(e.message) && /--exec/.test(e.message),
      );
    }
    await assert.rejects(run(['--config', '/etc/portwake.yaml'], { portwakeCommand: ['/usr/bin/node', '/home/me/portwake/scripts/portwake-from-source.mjs'] }), /runs from its source tree/, 'npm run portwake');
    const built = await run(['--config', '/etc/portwake.yaml'], { portwakeCommand: ['/usr/bin/node', '/opt/portwake/dist/main.js'] });
    assert.match(built.out, /ExecStart=\/usr\/bin\/node \/opt\/portwake\/dist\/main\.js run /, 'a build is fine');
    const exec = await run(['--config', '/etc/portwake.yaml', '--exec', '/usr/local/bin/portwake'], { portwakeCommand: fromSource });
    assert.match(exec.out, /ExecStart=\/usr\/local\/bin\/portwake run /, '--exec overrides it');
  });

  it('refuses what it cannot do, saying how to fix it', async () => {
    const usage = (args: string[], re: RegExp) =>
      assert.rejects(run(args), (e: unknown) => e instanceof PortwakeError && e.code === 'USAGE' && re.test(e.message));
    await usage([], /give --config FILE, or the flags of `portwake proxy` after "--"/);
    await usage(['--config', 'a.yaml', '--', '--listen', '80'], /either --config FILE or the proxy flags/);
    await usage(['--config', 'a.yaml', '--exec', 'portwake'], /--exec: expected an absolute path/);
    await usage(['--config', 'a.yaml', '--exit-idle-time', 'soon'], /--exit-idle-time: expected a duration/);
    await assert.rejects(run(['--config', 'a.yaml', '--style', 'inetd']), /Allowed choices are portwake, recipe/);
  });

  it('refuses a --token in the proxy flags (the unit would show it to every user) and says to use a token file', async () => {
    for (const token of [['--token', 's3cret'], ['--token=s3cret']]) {
      await assert.rejects(
        run(['--', '--listen', '80', '--container', 'web', '--control', '127.0.0.1:9090', ...token]),
        (e: unknown) => e instanceof PortwakeError && e.code === 'USAGE' && /--token would be written into the unit/.test(e.message)
          && /--token-file FILE/.test(e.message) && /LoadCredential=portwake-token:FILE/.test(e.message) && /control\.tokenFile/.test(e.message)
          && !e.message.includes('s3cret'),
      );
    }
  });

  it('loads control.tokenFile as the credential portwake-token (LoadCredential=), never the token itself', async () => {
    const control = { listen: { kind: 'tcp' as const, host: '127.0.0.1', port: 9090 }, token: undefined, tokenFile: '/etc/portwake/token' };
    const r = await run(['--config', 'a.yaml'], { loadConfig: (path) => ({ ...CONFIG, source: path, control }) });
    assert.match(r.out, /\nLoadCredential=portwake-token:\/etc\/portwake\/token\n/);
    const plain = await run(['--config', 'a.yaml']);
    assert.doesNotMatch(plain.out, /LoadCredential/);
  });

  it('as the installed command: a real config file in, units that systemd-analyze verify accepts out', async (t) => {
    const dir = tempDir(t);
    const config = join(dir, 'portwake.yaml');
    writeFileSync(config, 'services:\n  web:\n    listen: [8080, "unix:/run/web/web.sock"]\n    container: nginx8080\n    idleTimeout: 5m\n');
    const exe = join(dir, 'portwake');
    writeFileSync(exe, '#!/bin/sh\nexit 0\n');
    chmodSync(exe, 0o755);
    const out = join(dir, 'units');
    const [node, ...args] = nodeTs('src/main.ts');
    const child = startChild(t, node ?? process.execPath, [...args, 'generate', 'systemd', '--config', config, '--exec', exe, '-o', out, '--exit-idle-time', '15m']);
    assert.equal(await child.exited, 0, child.stderr());
    const files = readdirSync(out).sort();
    assert.deepEqual(files, ['portwake.service', 'portwake.socket']);
    assert.match(readFileSync(join(out, 'portwake.socket'), 'utf8'), /ListenStream=8080\nListenStream=\/run\/web\/web\.sock\nFileDescriptorName=web\n/);
    assert.match(readFileSync(join(out, 'portwake.service'), 'utf8'), new RegExp(`ExecStart=${exe} run --config ${config} --listen-from-systemd --exit-idle-time 15m\\n`));
    const verify = spawnSync('systemd-analyze', ['verify', ...files.map((f) => join(out, f))], { encoding: 'utf8' });
    assert.equal(`${verify.stdout}${verify.stderr}`, '');
    assert.equal(verify.status, 0);
  });
});
