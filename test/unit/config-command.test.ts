// provider: command in portwake.yaml: run: or start:/stop:/status:, upstream: required, no
// container:, no ready: health; each mistake reported at its key, with the fix.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { sameUpstream } from '../../src/daemon/reload-plan.ts';

function errors(yaml: string): string {
  try {
    parseConfig(yaml, 'portwake.yaml');
  } catch (err) {
    return (err as Error).message;
  }
  return assert.fail('expected a config error');
}

const service = (body: string): string => `services:\n  app:\n    listen: 127.0.0.1:18080\n${body}`;

describe('config: provider: command', () => {
  it('run: gives a command service named after itself, with its upstream', () => {
    const c = parseConfig(service('    provider: command\n    run: [busybox, httpd, -f, -p, 8081]\n    upstream: 127.0.0.1:8081\n'), 'portwake.yaml');
    const s = c.services[0];
    assert.deepEqual(s?.command, { kind: 'run', run: ['busybox', 'httpd', '-f', '-p', '8081'] });
    assert.equal(s?.container, 'app');
    assert.deepEqual(s?.upstream, { kind: 'tcp', host: '127.0.0.1', port: 8081 });
  });

  it('start:, stop: and status: give a managed service', () => {
    const c = parseConfig(service('    provider: command\n    start: [systemctl, start, app]\n    stop: [systemctl, stop, app]\n    status: [systemctl, is-active, -q, app]\n    upstream: unix:/run/app.sock\n'), 'portwake.yaml');
    assert.deepEqual(c.services[0]?.command, { kind: 'manage', start: ['systemctl', 'start', 'app'], stop: ['systemctl', 'stop', 'app'], status: ['systemctl', 'is-active', '-q', 'app'] });
  });

  it('a Docker service (the default) is unchanged and has no command', () => {
    const c = parseConfig(service('    container: web\n'), 'portwake.yaml');
    assert.equal(c.services[0]?.command, undefined);
    assert.equal(c.services[0]?.container, 'web');
    assert.equal(parseConfig(service('    provider: docker\n    container: web\n'), 'portwake.yaml').services[0]?.container, 'web');
  });

  it('upstream: is required, container: and ready: health are not allowed', () => {
    const msg = errors(service('    provider: command\n    run: [app]\n    container: app\n    ready: health\n'));
    assert.match(msg, /portwake\.yaml:3:5: services\.app\.upstream: is required for a command service: where its process listens/);
    assert.match(msg, /portwake\.yaml:6:5: services\.app\.container: is not used by a command service .*remove it/);
    assert.match(msg, /portwake\.yaml:7:12: services\.app\.ready: health needs a container HEALTHCHECK.*use tcp, http/);
  });

  it('engine: is not allowed: the process runs on this machine', () => {
    assert.match(errors(`engines:\n  podman: unix:///run/podman/podman.sock\n${service('    provider: command\n    run: [app]\n    upstream: 127.0.0.1:1\n    engine: podman\n')}`),
      /services\.app\.engine: is not used by a command service \(its process runs on this machine, not on an engine\)/);
  });

  it('run: or start:/stop:/status:, not both, not neither, not half', () => {
    assert.match(errors(service('    provider: command\n    upstream: 127.0.0.1:1\n')), /services\.app\.run: is required for a command service: run: \[program, args…\]/);
    assert.match(errors(service('    provider: command\n    run: [a]\n    stop: [b]\n    upstream: 127.0.0.1:1\n')), /6:5: services\.app\.stop: give either run: .* not both/);
    const half = errors(service('    provider: command\n    start: [a]\n    upstream: 127.0.0.1:1\n'));
    assert.match(half, /services\.app\.stop: is required with start:/);
    assert.match(half, /services\.app\.status: is required with start:/);
  });

  it('argv lists: a string says how to write a shell line; empty lists and items are refused', () => {
    assert.match(errors(service('    provider: command\n    run: "httpd -f"\n    upstream: 127.0.0.1:1\n')), /services\.app\.run: expected a list of arguments .*got "httpd -f" \(no shell runs it: for a shell line write \[sh, -c, "httpd -f"\]\)/);
    assert.match(errors(service('    provider: command\n    run: []\n    upstream: 127.0.0.1:1\n')), /services\.app\.run: expected a non-empty list/);
    assert.match(errors(service('    provider: command\n    run: [a, ""]\n    upstream: 127.0.0.1:1\n')), /services\.app\.run: argument 2: expected a non-empty string, got ""/);
  });

  it('a Docker service needs container: and has no run:; a misspelt provider is named', () => {
    const msg = errors(service('    run: [a]\n'));
    assert.match(msg, /services\.app\.container: is required \(the name of the container to start\)/);
    assert.match(msg, /services\.app\.run: applies only to a command service; add provider: command/);
    assert.match(errors(service('    provider: comand\n    run: [a]\n')), /services\.app\.provider: expected "docker" .* or "command" .*got "comand"/);
    assert.match(errors(service('    provider: command\n    runn: [a]\n    upstream: 127.0.0.1:1\n')), /services\.app\.runn: unknown key; did you mean "run"\?/);
  });

  it('the example in examples/command.yaml is valid', async () => {
    const config = await loadConfig(new URL('../../examples/command.yaml', import.meta.url).pathname);
    assert.deepEqual(config.services.map((s) => [s.name, s.command?.kind]), [['files', 'run']]);
  });

  it('a reload that changes run: replaces the service (its connections drain); one that changes idleTimeout keeps it', () => {
    const svc = (run: string, idle: string) => parseConfig(service(`    provider: command\n    run: [${run}]\n    upstream: 127.0.0.1:8081\n    idleTimeout: ${idle}\n`), 'portwake.yaml').services[0];
    const [a, b, c] = [svc('app, -v', '1m'), svc('app, -v', '5m'), svc('app, -q', '1m')];
    assert.ok(a !== undefined && b !== undefined && c !== undefined);
    assert.equal(sameUpstream(a, b), true);
    assert.equal(sameUpstream(a, c), false);
  });
});
