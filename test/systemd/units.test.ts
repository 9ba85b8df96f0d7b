// Generated units, pinned by golden files (UPDATE_GOLDEN=1 rewrites them) and each set checked by
// `systemd-analyze verify`, which must print nothing. Plus the errors for configs that cannot be units.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { PortwakeConfig, ServiceConfig } from '../../src/config/types.ts';
import { DEFAULTS } from '../../src/config/types.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { generateRecipeUnits, type RecipeUnitOptions } from '../../src/systemd/recipe-units.ts';
import type { UnitFile } from '../../src/systemd/unit-file.ts';
import { generatePortwakeUnits, type PortwakeUnitOptions } from '../../src/systemd/units.ts';
import { REPO, tempDir } from './helpers.ts';

const GOLDEN = join(REPO, 'test/systemd/golden');
const PORTWAKE = '/usr/local/bin/portwake';
const DOCKER = '/usr/bin/docker';
const PROXYD = '/lib/systemd/systemd-socket-proxyd';

function service(name: string, over: Partial<ServiceConfig>): ServiceConfig {
  return {
    name, listen: [], container: name, port: undefined, upstream: undefined, ready: { kind: 'tcp' },
    startTimeoutMs: DEFAULTS.startTimeoutMs, idleTimeoutMs: undefined, stopTimeoutMs: DEFAULTS.stopTimeoutMs,
    maxConnections: DEFAULTS.maxConnections, maxPending: DEFAULTS.maxPending, ...over,
  };
}

function config(services: ServiceConfig[], over: Partial<PortwakeConfig> = {}): PortwakeConfig {
  return { source: '/etc/portwake/portwake.yaml', services, engineHost: undefined, control: undefined, ...over };
}

/** The seed's nginx: port 80 forwarded to the container published on 8080, stopped after 5 idle minutes. */
const nginx = service('nginx', {
  container: 'nginx8080',
  listen: [{ kind: 'tcp', host: undefined, port: 80, text: '80' }],
  upstream: { kind: 'tcp', host: '127.0.0.1', port: 8080 },
  idleTimeoutMs: 300_000,
});

const portwakeDefaults: PortwakeUnitOptions = {
  name: 'portwake', portwake: [PORTWAKE], args: ['run', '--config', '/etc/portwake/portwake.yaml'],
  exitIdleMs: undefined, watchdogMs: 30_000, user: undefined, groups: [],
};
const recipeDefaults: RecipeUnitOptions = { portwake: [PORTWAKE], docker: DOCKER, proxyd: PROXYD };

const CASES: Array<{ name: string; files: () => UnitFile[] }> = [
  {
    name: 'single',
    files: () => generatePortwakeUnits(
      config([{ ...nginx, listen: [...nginx.listen, { kind: 'tcp', host: '::1', port: 8081, text: '[::1]:8081' }] }]),
      { ...portwakeDefaults, exitIdleMs: 600_000 },
    ),
  },
  {
    name: 'multi',
    files: () => generatePortwakeUnits(
      config(
        [
          service('web', { listen: [{ kind: 'tcp', host: '127.0.0.1', port: 8080, text: '127.0.0.1:8080' }], stopTimeoutMs: 30_000 }),
          service('api', { listen: [{ kind: 'unix', path: '/run/api/api.sock', mode: 0o660, text: 'unix:/run/api/api.sock' }], maxPending: 100_000 }),
        ],
        { control: { listen: { kind: 'unix', path: '/run/portwake/control.sock', mode: 0o660 }, token: undefined } },
      ),
      { ...portwakeDefaults, name: 'edge', user: 'portwake', groups: ['docker'], watchdogMs: 0 },
    ),
  },
  {
    name: 'flags',
    files: () => generatePortwakeUnits(
      config([nginx], { source: '<flags>' }),
      { ...portwakeDefaults, args: ['proxy', '--listen', '80', '--container', 'nginx8080', '--upstream', '127.0.0.1:8080', '--idle', '5m', '--name', '50% off $HOME'] },
    ),
  },
  {
    // The engine the generator was pointed at (DOCKER_HOST and TLS), carried into the unit.
    name: 'engine',
    files: () => generatePortwakeUnits(
      config([nginx]),
      { ...portwakeDefaults, environment: [['DOCKER_HOST', 'tcp://10.0.0.5:2376'], ['DOCKER_TLS_VERIFY', '1'], ['DOCKER_CERT_PATH', '/etc/docker/certs of 50%']] },
    ),
  },
  {
    name: 'recipe',
    files: () => generateRecipeUnits(
      config([
        nginx,
        service('api', {
          container: 'api-1',
          listen: [{ kind: 'tcp', host: '127.0.0.1', port: 3000, text: '127.0.0.1:3000' }],
          upstream: { kind: 'tcp', host: '127.0.0.1', port: 13000 },
          port: 3000,
          ready: { kind: 'http', path: '/healthz', statusMin: 200, statusMax: 399, host: undefined },
          startTimeoutMs: 120_000,
        }),
        service('slow', {
          listen: [{ kind: 'unix', path: '/run/slow.sock', mode: undefined, text: 'unix:/run/slow.sock' }],
          upstream: { kind: 'unix', path: '/run/slow/app.sock' },
          ready: { kind: 'delay', ms: 1_500 },
        }),
      ]),
      recipeDefaults,
    ),
  },
];

/** Writes the files with every absolute executable that does not exist here replaced by a stub. */
function writeForVerify(t: TestContext, files: UnitFile[]): string[] {
  const dir = tempDir(t, 'pw-units-');
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  const paths: string[] = [];
  for (const f of files) {
    let text = f.text;
    for (const exe of [PORTWAKE, DOCKER, PROXYD]) {
      if (existsSync(exe)) continue;
      const stub = join(bin, exe.split('/').at(-1) ?? 'stub');
      writeFileSync(stub, '#!/bin/sh\nexit 0\n');
      chmodSync(stub, 0o755);
      text = text.split(`=${exe} `).join(`=${stub} `);
    }
    const path = join(dir, f.name);
    writeFileSync(path, text);
    paths.push(path);
  }
  return paths;
}

describe('generated systemd units', { timeout: 60_000 }, () => {
  for (const c of CASES) {
    it(`${c.name}: matches the golden files`, () => {
      const files = c.files();
      const dir = join(GOLDEN, c.name);
      if (process.env.UPDATE_GOLDEN === '1') {
        mkdirSync(dir, { recursive: true });
        for (const f of files) writeFileSync(join(dir, f.name), f.text);
      }
      for (const f of files) {
        const golden = join(dir, f.name);
        assert.ok(existsSync(golden), `${golden} is missing (run with UPDATE_GOLDEN=1)`);
        assert.equal(f.text, readFileSync(golden, 'utf8'), `${c.name}/${f.name} differs from the golden file`);
      }
    });

    it(`${c.name}: passes systemd-analyze verify without a word`, (t) => {
      const paths = writeForVerify(t, c.files());
      const r = spawnSync('systemd-analyze', ['verify', ...paths], { encoding: 'utf8' });
      assert.equal(r.error, undefined);
      assert.equal(`${r.stdout}${r.stderr}`, '');
      assert.equal(r.status, 0);
    });
  }

  it('an engine socket under /tmp keeps /tmp shared; the recipe\'s container units carry the engine too', () => {
    const [, service] = generatePortwakeUnits(config([nginx]), { ...portwakeDefaults, environment: [['DOCKER_HOST', 'unix:///tmp/engine/docker.sock']] });
    assert.match(service?.text ?? '', /\nEnvironment=DOCKER_HOST=unix:\/\/\/tmp\/engine\/docker\.sock\n/);
    assert.doesNotMatch(service?.text ?? '', /PrivateTmp/, 'a private /tmp would hide the engine socket');
    const recipe = generateRecipeUnits(config([nginx]), { ...recipeDefaults, environment: [['DOCKER_HOST', 'unix:///srv/docker.sock']] });
    const docker = recipe.find((f) => f.name === 'nginx-docker.service')?.text ?? '';
    assert.match(docker, /\[Service\]\nEnvironment=DOCKER_HOST=unix:\/\/\/srv\/docker\.sock\nExecStart=/);
    assert.doesNotMatch(recipe.find((f) => f.name === 'nginx-proxy.service')?.text ?? '', /Environment=/, 'the proxy does not talk to the engine');
  });

  it('names the problem when a config cannot become units', () => {
    const usage = (fn: () => unknown, re: RegExp): void =>
      assert.throws(fn, (e: unknown) => e instanceof PortwakeError && e.code === 'USAGE' && re.test(e.message));
    usage(() => generateRecipeUnits(config([{ ...nginx, upstream: undefined }]), recipeDefaults), /service "nginx": --style recipe needs upstream:/);
    usage(
      () => generatePortwakeUnits(config([{ ...nginx, listen: [{ kind: 'systemd', name: 'x', text: 'systemd:x' }] }]), portwakeDefaults),
      /listen: systemd:x has no address to write into ListenStream=/,
    );
    usage(
      () => generatePortwakeUnits(config([{ ...nginx, listen: [{ kind: 'tcp', host: 'localhost', port: 80, text: 'localhost:80' }] }]), portwakeDefaults),
      /needs an IP address, not the name "localhost"/,
    );
    usage(() => generatePortwakeUnits(config([nginx]), { ...portwakeDefaults, name: 'my units' }), /"my units" cannot be a unit name/);
    usage(() => generatePortwakeUnits(config([nginx]), { ...portwakeDefaults, portwake: ['portwake'] }), /must start with an absolute path/);
  });
});
