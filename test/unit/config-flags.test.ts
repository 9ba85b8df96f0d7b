// `portwake proxy` flags → a one-service config: the same validation as the file, every message
// naming the flag.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.ts';
import { configFromFlags, FLAG_SOURCE, type ProxyFlags } from '../../src/config/flags.ts';

function problems(flags: ProxyFlags): string[] {
  try {
    configFromFlags(flags, { cwd: '/srv/app' });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.source, FLAG_SOURCE);
    assert.ok(err.issues.every((i) => i.line === undefined && i.col === undefined));
    return err.message.split('\n');
  }
  return assert.fail('expected the flags to be rejected');
}

describe('configFromFlags', () => {
  it('builds one service with the defaults', () => {
    assert.deepEqual(configFromFlags({ listen: ['8080'], container: 'nginx' }), {
      source: '<flags>',
      engineHost: undefined,
      control: undefined,
      services: [{
        name: 'nginx',
        listen: [{ kind: 'tcp', host: undefined, port: 8080, text: '8080' }],
        container: 'nginx',
        port: undefined,
        upstream: undefined,
        ready: { kind: 'tcp' },
        startTimeoutMs: 60_000,
        idleTimeoutMs: undefined,
        stopTimeoutMs: 10_000,
        maxConnections: 4096,
        maxPending: 1024,
      }],
    });
  });

  it('reads every flag; numbers may arrive as strings; relative unix paths resolve against cwd', () => {
    const config = configFromFlags({
      listen: ['127.0.0.1:80', 'unix:run/web.sock'],
      container: 'nginx8080',
      name: 'web',
      port: '8080',
      ready: 'http:/healthz',
      startTimeout: '2m',
      idle: '10m',
      stopTimeout: '5s',
      maxConnections: '10',
      maxPending: 5,
      socketMode: '0600',
      engine: 'unix:///run/podman/podman.sock',
      control: 'unix:ctl.sock',
      token: undefined,
    }, { cwd: '/srv/app' });
    assert.equal(config.engineHost, 'unix:///run/podman/podman.sock');
    assert.deepEqual(config.control, { listen: { kind: 'unix', path: '/srv/app/ctl.sock', mode: 0o660 }, token: undefined });
    assert.deepEqual(config.services[0], {
      name: 'web',
      listen: [
        { kind: 'tcp', host: '127.0.0.1', port: 80, text: '127.0.0.1:80' },
        { kind: 'unix', path: '/srv/app/run/web.sock', mode: 0o600, text: 'unix:/srv/app/run/web.sock' },
      ],
      container: 'nginx8080',
      port: 8080,
      upstream: undefined,
      ready: { kind: 'http', path: '/healthz', statusMin: 200, statusMax: 399, host: undefined },
      startTimeoutMs: 120_000,
      idleTimeoutMs: 600_000,
      stopTimeoutMs: 5000,
      maxConnections: 10,
      maxPending: 5,
    });
  });

  it('--ready forms', () => {
    const ready = (value: string): unknown => configFromFlags({ listen: ['80'], container: 'c', ready: value }).services[0]?.ready;
    assert.deepEqual(ready('tcp'), { kind: 'tcp' });
    assert.deepEqual(ready('health'), { kind: 'health' });
    assert.deepEqual(ready('http'), { kind: 'http', path: '/', statusMin: 200, statusMax: 399, host: undefined });
    assert.deepEqual(ready('delay:1500ms'), { kind: 'delay', ms: 1500 });
  });

  it('--upstream and --token with a TCP control address', () => {
    const config = configFromFlags({ listen: ['80'], container: 'c', upstream: '[::1]:8080', control: '0.0.0.0:9090', token: 't0k3n' });
    assert.deepEqual(config.services[0]?.upstream, { kind: 'tcp', host: '::1', port: 8080 });
    assert.deepEqual(config.control, { listen: { kind: 'tcp', host: '0.0.0.0', port: 9090 }, token: 't0k3n' });
  });

  it('names the flag in every message, all at once', () => {
    assert.deepEqual(problems({
      listen: ['80', 'x:0'],
      container: 'web',
      idle: 'ten',
      startTimeout: '30',
      stopTimeout: '1.5s',
      port: '0',
      maxConnections: '-1',
      maxPending: 'lots',
      ready: 'helth',
      socketMode: '660x',
      engine: 'docker',
    }), [
      '--ready: expected tcp, health, http, http:/PATH or delay:DURATION, got "helth"; did you mean "health"?',
      '--engine: expected a DOCKER_HOST-style address like "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375", got "docker"',
      '--listen: "x:0": port 0 is out of range 1-65535',
      '--socket-mode: expected an octal string like "0660", got "660x"',
      '--port: port 0 is out of range 1-65535',
      '--start-timeout: expected a duration like "10m", got "30"; did you mean "30s"?',
      '--idle: expected a duration like "10m", got "ten"',
      '--stop-timeout: expected whole seconds like "10s", got "1.5s"',
      '--max-connections: expected a positive whole number, got "-1"',
      '--max-pending: expected a positive whole number, got "lots"',
    ]);
  });

  it('rejects an address given twice or overlapping', () => {
    assert.deepEqual(problems({ listen: ['8080', '0.0.0.0:8080', 'unix:a.sock', 'unix:/srv/app/a.sock'], container: 'c' }), [
      '--listen: "0.0.0.0:8080" overlaps "8080" of this service (--listen)',
      '--listen: "unix:/srv/app/a.sock" is also used by this service (--listen)',
    ]);
  });

  it('the relations between flags', () => {
    assert.deepEqual(problems({ listen: ['80'], container: 'c', control: '0.0.0.0:9090', port: '80', upstream: '127.0.0.1:80', ready: 'delay:2m', socketMode: '0660' }), [
      '--token: a token is required: the control API listens on "0.0.0.0:9090", which is reachable from other machines (the daemon may also take it from PORTWAKE_TOKEN or the systemd credential portwake-token)',
      '--socket-mode: applies only to unix: listeners, and this service has none',
      '--port: has no effect when "upstream" is set; remove one of them',
      '--ready: "2m" is not shorter than startTimeout (1m), so the service could never become ready',
      '--upstream: is portwake\'s own listener "80" of this service (--listen): its connections would come back into portwake; give the address the app itself listens on',
    ]);
    assert.deepEqual(problems({ listen: ['80'], container: 'c', token: 'x' }), ['--token: needs --control (the token protects the control API)']);
  });

  it('empty --listen, bad --container, --name, --upstream, --ready', () => {
    assert.deepEqual(problems({ listen: [], container: '/c', name: '-x', upstream: '8080', ready: 'http:healthz' }), [
      '--name: invalid service name "-x": use letters, digits, "_", "." and "-", starting with a letter or digit',
      '--listen: expected at least one address',
      '--container: expected a container name or ID like "nginx8080", got "/c"',
      '--upstream: expected HOST:PORT, [IPv6]:PORT or unix:/path, got "8080"; a port alone needs a host, e.g. "127.0.0.1:8080"',
      '--ready: expected a request path starting with "/", like "/healthz", got "healthz"',
    ]);
  });
});
