// portwake.yaml → PortwakeConfig: good files with their defaults, and every kind of problem reported
// at its exact line:col, all at once, in file order.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import type { PortwakeConfig, ServiceConfig } from '../../src/config/types.ts';
import { environmentHasToken } from '../../src/control/token.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { parse, problems, yaml } from '../support/config-text.ts';


function service(text: string, name = 'web'): ServiceConfig {
  const found = parse(text).services.find((s) => s.name === name);
  assert.ok(found, `service ${name}`);
  return found;
}

/** The ConfigError's message lines for a file that must be rejected. */

describe('parseConfig: good files', () => {
  it('fills in every default', () => {
    const config = parse(yaml(
      'services:',
      '  web:',
      '    listen: 80',
      '    container: nginx8080',
    ));
    assert.deepEqual(config, {
      source: 'portwake.yaml',
      engineHost: undefined,
      control: undefined,
      services: [{
        name: 'web',
        listen: [{ kind: 'tcp', host: undefined, port: 80, text: '80' }],
        container: 'nginx8080',
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

  it('reads every key', () => {
    const config = parse(yaml(
      'engine: tcp://10.0.0.2:2375',
      'control:',
      '  listen: 0.0.0.0:9090',
      '  token: s3cret',
      'services:',
      '  web:',
      '    listen: ["0.0.0.0:80", "[::]:80", unix:/run/web.sock]',
      '    socketMode: "0600"',
      '    container: nginx8080',
      '    port: 8080',
      '    ready: {http: {path: /healthz, status: "200-299", host: app.example.com}}',
      '    startTimeout: 1m30s',
      '    idleTimeout: 10m',
      '    stopTimeout: 0s',
      '    maxConnections: 100',
      '    maxPending: 10',
      '  db:',
      '    listen: systemd:db',
      '    container: postgres',
      '    upstream: unix:/run/pg/.s.PGSQL.5432',
      '    ready: health',
    ));
    assert.equal(config.engineHost, 'tcp://10.0.0.2:2375');
    assert.deepEqual(config.control, { listen: { kind: 'tcp', host: '0.0.0.0', port: 9090 }, token: 's3cret' });
    const [web, db] = config.services;
    assert.deepEqual(web, {
      name: 'web',
      listen: [
        { kind: 'tcp', host: '0.0.0.0', port: 80, text: '0.0.0.0:80' },
        { kind: 'tcp', host: '::', port: 80, text: '[::]:80' },
        { kind: 'unix', path: '/run/web.sock', mode: 0o600, text: 'unix:/run/web.sock' },
      ],
      container: 'nginx8080',
      port: 8080,
      upstream: undefined,
      ready: { kind: 'http', path: '/healthz', statusMin: 200, statusMax: 299, host: 'app.example.com' },
      startTimeoutMs: 90_000,
      idleTimeoutMs: 600_000,
      stopTimeoutMs: 0,
      maxConnections: 100,
      maxPending: 10,
    });
    assert.deepEqual(db?.listen, [{ kind: 'systemd', name: 'db', text: 'systemd:db' }]);
    assert.deepEqual(db?.upstream, { kind: 'unix', path: '/run/pg/.s.PGSQL.5432' });
    assert.deepEqual(db?.ready, { kind: 'health' });
  });

  it('reads every form of ready', () => {
    const ready = (value: string): ServiceConfig['ready'] =>
      service(yaml('services:', '  web:', '    listen: 80', '    container: c', `    ready: ${value}`)).ready;
    const status = { statusMin: 200, statusMax: 399 };
    assert.deepEqual(ready('tcp'), { kind: 'tcp' });
    assert.deepEqual(ready('health'), { kind: 'health' });
    assert.deepEqual(ready('http'), { kind: 'http', path: '/', host: undefined, ...status });
    assert.deepEqual(ready('{http: /up}'), { kind: 'http', path: '/up', host: undefined, ...status });
    assert.deepEqual(ready('{http: {status: 204}}'), { kind: 'http', path: '/', host: undefined, statusMin: 204, statusMax: 204 });
    assert.deepEqual(ready('{delay: 1s}'), { kind: 'delay', ms: 1000 });
    assert.deepEqual(ready('{delay: 0s}'), { kind: 'delay', ms: 0 });
  });

  it('control on a unix socket or loopback needs no token; the unix socket mode defaults to 0660', () => {
    const control = (lines: string[]): PortwakeConfig['control'] =>
      parse(yaml('control:', ...lines, 'services:', '  web: {listen: 80, container: c}')).control;
    assert.deepEqual(control(['  listen: unix:/run/portwake.sock']), { listen: { kind: 'unix', path: '/run/portwake.sock', mode: 0o660 }, token: undefined });
    assert.deepEqual(control(['  listen: unix:/run/portwake.sock', '  socketMode: "0600"']), { listen: { kind: 'unix', path: '/run/portwake.sock', mode: 0o600 }, token: undefined });
    assert.deepEqual(control(['  listen: 127.0.0.1:9090']), { listen: { kind: 'tcp', host: '127.0.0.1', port: 9090 }, token: undefined });
    assert.deepEqual(control(['  listen: "[::1]:9090"']), { listen: { kind: 'tcp', host: '::1', port: 9090 }, token: undefined });
    assert.deepEqual(control(['  listen: localhost:9090']), { listen: { kind: 'tcp', host: 'localhost', port: 9090 }, token: undefined });
  });

  it('control: ADDR is short for control: {listen: ADDR}, with the same checks and line numbers', () => {
    const control = (value: string): PortwakeConfig['control'] =>
      parse(yaml(`control: ${value}`, 'services:', '  web: {listen: 80, container: c}')).control;
    assert.deepEqual(control('unix:/run/portwake/control.sock'), { listen: { kind: 'unix', path: '/run/portwake/control.sock', mode: 0o660 }, token: undefined });
    assert.deepEqual(control('127.0.0.1:9090'), { listen: { kind: 'tcp', host: '127.0.0.1', port: 9090 }, token: undefined });
    assert.deepEqual(problems(yaml('services:', '  web: {listen: 9090, container: c}', 'control: 0.0.0.0:9090')), [
      'portwake.yaml:2:17: services.web.listen: "9090" overlaps "0.0.0.0:9090" of the control API (control.listen at line 3)',
      'portwake.yaml:3:10: control.token: a token is required: the control API listens on "0.0.0.0:9090", which is reachable from other machines (the daemon may also take it from PORTWAKE_TOKEN or the systemd credential portwake-token)',
    ].sort());
    assert.deepEqual(problems(yaml('control: 9090', 'services:', '  web: {listen: 80, container: c}')), [
      'portwake.yaml:1:10: control.listen: "9090": give the address to listen on, e.g. "127.0.0.1:9090" (or "0.0.0.0:9090" with a token)',
    ]);
  });

  it('idleTimeout: never is the same as leaving it out', () => {
    assert.equal(service(yaml('services:', '  web: {listen: 80, container: c, idleTimeout: never}')).idleTimeoutMs, undefined);
  });

  it('0.0.0.0:80 and [::]:80 together, and different ports or paths, do not collide', () => {
    const config = parse(yaml(
      'services:',
      '  web: {listen: ["0.0.0.0:80", "[::]:80"], container: a}',
      '  api: {listen: [81, "127.0.0.1:82", "127.0.0.2:82"], container: b}',
      '  sock: {listen: [unix:/run/a.sock, systemd:a], container: c}',
      '  sock2: {listen: [unix:/run/b.sock, systemd:b], container: d}',
    ));
    assert.deepEqual(config.services.map((s) => s.name), ['web', 'api', 'sock', 'sock2']);
  });

  it('shares settings through x- anchors and merge keys; explicit keys win', () => {
    const config = parse(yaml(
      'x-common: &common',
      '  container: shared',
      '  idleTimeout: 5m',
      'services:',
      '  a:',
      '    <<: *common',
      '    listen: 80',
      '  b:',
      '    <<: *common',
      '    listen: 81',
      '    idleTimeout: 1m',
    ));
    assert.deepEqual(config.services.map((s) => [s.name, s.container, s.idleTimeoutMs]), [['a', 'shared', 300_000], ['b', 'shared', 60_000]]);
  });

  it('keeps the source path as given', () => {
    assert.equal(parseConfig(yaml('services:', '  web: {listen: 80, container: c}'), '/etc/portwake/portwake.yaml').source, '/etc/portwake/portwake.yaml');
  });

  it('the commented example in examples/ is valid', async () => {
    const config = await loadConfig(new URL('../../examples/portwake.yaml', import.meta.url).pathname);
    assert.deepEqual(config.services.map((s) => s.name), ['web', 'api', 'legacy']);
    assert.equal(config.engineHost, 'unix:///var/run/docker.sock');
    assert.equal(config.control?.listen.kind, 'unix');
  });
});

describe('parseConfig: problems, each at its line:col', () => {
  it('a bad value points at the value', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    listen: 80',
      '    container: nginx8080',
      '    idleTimeout: ten',
    )), ['portwake.yaml:5:18: services.web.idleTimeout: expected a duration like "10m", got "ten"']);
  });

  it('a bare number as a duration suggests a unit', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web: {listen: 80, container: c, startTimeout: 30}',
    )), ['portwake.yaml:2:49: services.web.startTimeout: expected a duration like "10m", got 30; did you mean "30s"?']);
  });

  it('an unknown key points at the key, with a did-you-mean when close', () => {
    assert.deepEqual(problems(yaml(
      'engin: unix:///var/run/docker.sock',
      'services:',
      '  web:',
      '    listen: 80',
      '    container: c',
      '    idletimeout: 10m',
      '    image: nginx',
      '    ready: {http: {path: /, stauts: 200}}',
      'control: {listen: unix:/run/c.sock, tokn: x}',
    )), [
      'portwake.yaml:1:1: engin: unknown key; did you mean "engine"?',
      'portwake.yaml:6:5: services.web.idletimeout: unknown key; did you mean "idleTimeout"?',
      'portwake.yaml:7:5: services.web.image: unknown key',
      'portwake.yaml:8:29: services.web.ready.http.stauts: unknown key; did you mean "status"?',
      'portwake.yaml:9:37: control.tokn: unknown key; did you mean "token"?',
    ]);
  });

  it('a missing required key points at the map that lacks it', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    listen: 80',
      '  api:',
      '    container: api',
      'control:',
      '  token: x',
    )), [
      'portwake.yaml:3:5: services.web.container: is required (the name of the container to start)',
      'portwake.yaml:5:5: services.api.listen: is required (where to accept connections, e.g. "80" or "unix:/run/app.sock"; or give "hosts:" for the HTTP router) unless another service lists this one in dependsOn: nothing else would ever start it',
      'portwake.yaml:7:3: control.listen: is required (e.g. "unix:/run/portwake/control.sock" or "127.0.0.1:9090")',
    ]);
  });

  it('YAML syntax errors have a line:col too', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    listen: [80',
      '    container: c',
    )).map((l) => l.slice(0, l.indexOf(' '))), ['portwake.yaml:4:5:']);
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    listen: 80',
      '    listen: 81',
      '    container: c',
    )), ['portwake.yaml:4:5: duplicate key "listen"']);
    assert.match(problems('services:\n\tweb: 1\n')[0] ?? '', /^portwake\.yaml:2:1: /);
    assert.match(problems('a: 1\n---\nb: 2\n')[0] ?? '', /^portwake\.yaml:\d+:\d+: a second YAML document starts here/);
  });

  it('an unquoted [IPv6]:PORT gets a hint to quote it', () => {
    assert.deepEqual(problems(yaml('services:', '  web:', '    listen: [::]:80', '    container: c')), [
      'portwake.yaml:3:17: Unexpected scalar at node end (quote IPv6 addresses: "[::1]:80")',
    ]);
    assert.deepEqual(problems(yaml('services:', '  web:', '    listen: ["0.0.0.0:80", [::1]:80]', '    container: c')), [
      'portwake.yaml:3:28: a key must be text, not a list or map (quote IPv6 addresses: "[::1]:80")',
    ]);
  });

  it('an empty file, or one without services, says so', () => {
    const empty = ['portwake.yaml:1:1: the file is empty; expected a "services:" map with at least one service'];
    assert.deepEqual(problems(''), empty);
    assert.deepEqual(problems('# nothing yet\n'), empty);
    assert.deepEqual(problems('- web\n'), ['portwake.yaml:1:1: expected a map with a "services:" key at the top level, got a list']);
    assert.deepEqual(problems('engine: unix:///run/docker.sock\n'), ['portwake.yaml:1:1: services: is required (a map of service name to service)']);
    const none = 'services: no services defined; add at least one, e.g. "web: {listen: 80, container: web}"';
    assert.deepEqual(problems('services: {}\n'), [`portwake.yaml:1:11: ${none}`]);
    assert.deepEqual(problems('services:\n'), [`portwake.yaml:1:10: ${none}`]);
    assert.deepEqual(problems('services: [web]\n'), ['portwake.yaml:1:11: services: expected a map of service name to service, got a list']);
  });

  it('service names become unit names and labels: bad ones point at the name', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  "my app": {listen: 80, container: c}',
      '  _web: {listen: 81, container: c}',
      '  web.v2: {listen: 82, container: c}',
    )), [
      'portwake.yaml:2:3: services["my app"]: invalid service name "my app": use letters, digits, "_", "." and "-", starting with a letter or digit',
      'portwake.yaml:3:3: services._web: invalid service name "_web": use letters, digits, "_", "." and "-", starting with a letter or digit',
    ]);
  });

  it('quotes service names with dots in paths', () => {
    assert.deepEqual(problems(yaml('services:', '  web.v2: {listen: 80, container: c, idleTimeout: 1}')), [
      'portwake.yaml:2:51: services["web.v2"].idleTimeout: expected a duration like "10m", got 1; did you mean "1s"?',
    ]);
  });

  it('a service that is not a map', () => {
    assert.deepEqual(problems(yaml('services:', '  web:', '  api: nginx')), [
      'portwake.yaml:2:7: services.web: expected a map, got nothing',
      'portwake.yaml:3:8: services.api: expected a map, got "nginx"',
    ]);
  });

  it('listen: each bad entry at its place in the list; an empty list', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    container: c',
      '    listen:',
      '      - 80',
      '      - "::1:8080"',
      '      - unix:relative.sock',
      '  api: {container: c, listen: []}',
    )), [
      'portwake.yaml:6:9: services.web.listen[1]: "::1:8080": put an IPv6 address in brackets, e.g. "[::1]:8080"',
      'portwake.yaml:7:9: services.web.listen[2]: expected an absolute socket path like "unix:/run/portwake/app.sock", got "unix:relative.sock"',
      'portwake.yaml:8:31: services.api.listen: expected at least one address',
    ]);
  });

  it('numbers: limits are positive whole numbers, ports 1-65535, socketMode a quoted octal string', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    listen: unix:/run/web.sock',
      '    container: c',
      '    maxConnections: 0',
      '    maxPending: 1.5',
      '    socketMode: 0660',
      '  api:',
      '    listen: 81',
      '    container: c',
      '    port: 70000',
      '    maxConnections: many',
    )), [
      'portwake.yaml:5:21: services.web.maxConnections: expected a positive whole number, got 0',
      'portwake.yaml:6:17: services.web.maxPending: expected a positive whole number, got 1.5',
      'portwake.yaml:7:17: services.web.socketMode: expected an octal string like "0660", got the number 660; quote the mode, e.g. socketMode: "0660"',
      'portwake.yaml:11:11: services.api.port: port 70000 is out of range 1-65535',
      'portwake.yaml:12:21: services.api.maxConnections: expected a positive whole number, got "many"',
    ]);
  });

  it('ready: bad words, bad maps, both http and delay', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  a: {listen: 81, container: c, ready: helth}',
      '  b: {listen: 82, container: c, ready: {http: healthz}}',
      '  c: {listen: 83, container: c, ready: {http: {status: "2xx-3xx"}}}',
      '  d: {listen: 84, container: c, ready: {http: /, delay: 1s}}',
      '  e: {listen: 85, container: c, ready: {}}',
      '  f: {listen: 86, container: c, ready: {delay: soon}}',
    )), [
      'portwake.yaml:2:40: services.a.ready: expected tcp, health, http, {http: "/path"} or {delay: "1s"}, got "helth"; did you mean "health"?',
      'portwake.yaml:3:47: services.b.ready.http: expected a request path starting with "/", like "/healthz", got "healthz"',
      'portwake.yaml:4:56: services.c.ready.http.status: expected an HTTP status or range like "200-399", got "2xx-3xx"',
      'portwake.yaml:5:57: services.d.ready.delay: give one of "http" or "delay", not both',
      'portwake.yaml:6:40: services.e.ready: expected tcp, health, http, {http: "/path"} or {delay: "1s"}, got an empty map',
      'portwake.yaml:7:48: services.f.ready.delay: expected a duration like "10m", got "soon"',
    ]);
  });

  it('settings that would do nothing', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    listen: 80',
      '    socketMode: "0660"',
      '    container: c',
      '    port: 8080',
      '    upstream: 127.0.0.1:8080',
      '    ready: {delay: 1m}',
      '    stopTimeout: 1500ms',
    )), [
      'portwake.yaml:4:5: services.web.socketMode: applies only to unix: listeners, and this service has none',
      'portwake.yaml:6:5: services.web.port: has no effect when "upstream" is set; remove one of them',
      'portwake.yaml:8:20: services.web.ready.delay: "1m" is not shorter than startTimeout (1m), so the service could never become ready',
      'portwake.yaml:9:18: services.web.stopTimeout: expected whole seconds like "10s", got "1500ms"',
    ]);
  });

  it('an upstream that is portwake\'s own listener: its connections would loop back into portwake', () => {
    assert.deepEqual(problems(yaml(
      'control: 127.0.0.1:9090',
      'services:',
      '  a: {listen: 8080, container: a, upstream: "127.0.0.1:8080"}',
      '  b: {listen: "127.0.0.1:8081", container: b, upstream: "127.0.0.1:9090"}',
      '  c: {listen: "unix:/run/c.sock", container: c, upstream: "unix:/run/c.sock"}',
      '  d: {listen: 8082, container: d, upstream: "db.example:8080"}',
    )), [
      'portwake.yaml:3:45: services.a.upstream: is portwake\'s own listener "8080" of this service (services.a.listen at line 3): its connections would come back into portwake; give the address the app itself listens on',
      'portwake.yaml:4:57: services.b.upstream: is portwake\'s own listener "127.0.0.1:9090" of the control API (control.listen at line 1): its connections would come back into portwake; give the address the app itself listens on',
      'portwake.yaml:5:59: services.c.upstream: is portwake\'s own listener "unix:/run/c.sock" of this service (services.c.listen at line 5): its connections would come back into portwake; give the address the app itself listens on',
    ]);
  });

  it('bad upstream and engine', () => {
    assert.deepEqual(problems(yaml(
      'engine: unix:/var/run/docker.sock',
      'services:',
      '  web: {listen: 80, container: c, upstream: 8080}',
    )), [
      'portwake.yaml:1:9: engine: expected a DOCKER_HOST-style address like "unix:///var/run/docker.sock" or "tcp://127.0.0.1:2375", got "unix:/var/run/docker.sock"; did you mean "unix:///var/run/docker.sock"?',
      'portwake.yaml:3:45: services.web.upstream: expected HOST:PORT, [IPv6]:PORT or unix:/path, got 8080; a port alone needs a host, e.g. "127.0.0.1:8080"',
    ]);
  });

  it('a container name that docker would refuse', () => {
    assert.deepEqual(problems(yaml('services:', '  web: {listen: 80, container: /nginx}')), [
      'portwake.yaml:2:32: services.web.container: expected a container name or ID like "nginx8080", got "/nginx"',
    ]);
  });
});

describe('parseConfig: control', () => {
  it('a TCP address other machines can reach needs a token', () => {
    assert.deepEqual(problems(yaml(
      'control:',
      '  listen: 0.0.0.0:9090',
      'services:',
      '  web: {listen: 80, container: c}',
    )), ['portwake.yaml:2:3: control.token: a token is required: the control API listens on "0.0.0.0:9090", which is reachable from other machines (the daemon may also take it from PORTWAKE_TOKEN or the systemd credential portwake-token)']);
    assert.deepEqual(problems(yaml('control: {listen: "[::]:9090"}', 'services:', '  web: {listen: 80, container: c}')), [
      'portwake.yaml:1:10: control.token: a token is required: the control API listens on "[::]:9090", which is reachable from other machines (the daemon may also take it from PORTWAKE_TOKEN or the systemd credential portwake-token)',
    ]);
  });

  it('a token from the environment (PORTWAKE_TOKEN, the systemd credential) satisfies it', async (t) => {
    const text = yaml('control: 0.0.0.0:9090', 'services:', '  web: {listen: 80, container: c}');
    assert.equal(parseConfig(text, 'portwake.yaml', { tokenFromEnvironment: true }).control?.listen.kind, 'tcp');
    assert.equal(environmentHasToken({ PORTWAKE_TOKEN: 's3cret' }), true);
    assert.equal(environmentHasToken({ PORTWAKE_TOKEN: '' }), false);
    const creds = await mkdtemp(join(tmpdir(), 'portwake-creds-'));
    t.after(() => rm(creds, { recursive: true, force: true }));
    assert.equal(environmentHasToken({ CREDENTIALS_DIRECTORY: creds }), false, 'a credentials directory without portwake-token');
    await writeFile(join(creds, 'portwake-token'), 's3cret\n');
    assert.equal(environmentHasToken({ CREDENTIALS_DIRECTORY: creds }), true);
  });

  it('never echoes a token, and rejects a bare port and a TCP socketMode', () => {
    assert.deepEqual(problems(yaml(
      'control:',
      '  listen: 9090',
      '  token: "my secret"',
      'services:',
      '  web: {listen: 80, container: c}',
    )), [
      'portwake.yaml:2:11: control.listen: "9090": give the address to listen on, e.g. "127.0.0.1:9090" (or "0.0.0.0:9090" with a token)',
      'portwake.yaml:3:10: control.token: expected a token without spaces, got text with spaces',
    ]);
    assert.deepEqual(problems(yaml('control: {listen: "127.0.0.1:9090", socketMode: "0600"}', 'services:', '  web: {listen: 80, container: c}')), [
      'portwake.yaml:1:37: control.socketMode: applies only to a unix: control socket',
    ]);
  });
});

describe('parseConfig: overlapping addresses', () => {
  it('names both services; a bare port overlaps 0.0.0.0 and [::]', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    listen: 80',
      '    container: a',
      '  api:',
      '    listen: ["0.0.0.0:80", "[::]:80", "127.0.0.1:80"]',
      '    container: b',
    )), [
      'portwake.yaml:6:14: services.api.listen[0]: "0.0.0.0:80" overlaps "80" of service "web" (services.web.listen at line 3)',
      'portwake.yaml:6:28: services.api.listen[1]: "[::]:80" overlaps "80" of service "web" (services.web.listen at line 3)',
      'portwake.yaml:6:39: services.api.listen[2]: "127.0.0.1:80" overlaps "80" of service "web" (services.web.listen at line 3)',
    ]);
  });

  it('one service listing an address twice', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web:',
      '    container: a',
      '    listen:',
      '      - "0.0.0.0:8080"',
      '      - 8080',
    )), ['portwake.yaml:6:9: services.web.listen[1]: "8080" overlaps "0.0.0.0:8080" of this service (services.web.listen[0] at line 5)']);
  });

  it('unix sockets by resolved path, and the control socket', () => {
    assert.deepEqual(problems(yaml(
      'control: {listen: unix:/run/pw/control.sock}',
      'services:',
      '  web: {listen: unix:/run/pw/web.sock, container: a}',
      '  api: {listen: "unix:/run/pw/../pw/web.sock", container: b}',
      '  ctl: {listen: unix:/run/pw//control.sock, container: c}',
    )), [
      'portwake.yaml:4:17: services.api.listen: "unix:/run/pw/web.sock" is also used by service "web" (services.web.listen at line 3)',
      'portwake.yaml:5:17: services.ctl.listen: "unix:/run/pw/control.sock" is also used by the control API (control.listen at line 1)',
    ]);
  });

  it('systemd sockets: the same name twice, or every socket and a named one', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web: {listen: systemd:http, container: a}',
      '  api: {listen: systemd:http, container: b}',
      '  all: {listen: systemd, container: c}',
    )), [
      'portwake.yaml:3:17: services.api.listen: "systemd:http" is also used by service "web" (services.web.listen at line 2)',
      'portwake.yaml:4:17: services.all.listen: "systemd" overlaps "systemd:http" of service "web" (services.web.listen at line 2)',
    ]);
  });

  it('is still checked when other fields of the same services are wrong', () => {
    assert.deepEqual(problems(yaml(
      'services:',
      '  web: {listen: 80, container: a, idleTimeout: 10}',
      '  api: {listen: 80, container: b, maxPending: -1}',
    )), [
      'portwake.yaml:2:48: services.web.idleTimeout: expected a duration like "10m", got 10; did you mean "10s"?',
      'portwake.yaml:3:17: services.api.listen: "80" is also used by service "web" (services.web.listen at line 2)',
      'portwake.yaml:3:47: services.api.maxPending: expected a positive whole number, got -1',
    ]);
  });
});

describe('ConfigError', () => {
  it('holds every issue, in file order, under code CONFIG_INVALID', () => {
    const text = yaml(
      'services:',
      '  web:',
      '    listen: 80',
      '    container: a',
      '    idleTimeout: ten',
      '    startTimeout: 5',
      '  api:',
      '    listen: 80',
      '    contaner: b',
    );
    let error: unknown;
    try {
      parseConfig(text, '/etc/portwake/portwake.yaml');
    } catch (err) {
      error = err;
    }
    assert.ok(error instanceof ConfigError);
    assert.ok(error instanceof PortwakeError);
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.equal(error.source, '/etc/portwake/portwake.yaml');
    assert.deepEqual(error.issues, [
      { line: 5, col: 18, path: 'services.web.idleTimeout', message: 'expected a duration like "10m", got "ten"' },
      { line: 6, col: 19, path: 'services.web.startTimeout', message: 'expected a duration like "10m", got 5; did you mean "5s"?' },
      { line: 8, col: 5, path: 'services.api.container', message: 'is required (the name of the container to start)' },
      { line: 8, col: 13, path: 'services.api.listen', message: '"80" is also used by service "web" (services.web.listen at line 3)' },
      { line: 9, col: 5, path: 'services.api.contaner', message: 'unknown key; did you mean "container"?' },
    ]);
    assert.equal(error.message.split('\n').length, 5);
    assert.ok(error.message.split('\n').every((line) => line.startsWith('portwake.yaml:')), 'base name only');
  });

  it('points into the anchor when a merged setting is wrong', () => {
    assert.deepEqual(problems(yaml(
      'x-base: &base',
      '  container: c',
      '  idleTimeout: 5q',
      'services:',
      '  web:',
      '    <<: *base',
      '    listen: 80',
    )), ['portwake.yaml:3:16: services.web.idleTimeout: expected a duration like "10m", got "5q"']);
  });
});

describe('loadConfig', () => {
  it('reads a file, and reports one it cannot read', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'portwake-config-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, 'portwake.yaml');
    await writeFile(path, yaml('services:', '  web: {listen: 80, container: c}'));
    assert.equal((await loadConfig(path)).services[0]?.name, 'web');

    const missing = join(dir, 'missing.yaml');
    await assert.rejects(loadConfig(missing), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.match(err.message, new RegExp(`^missing\\.yaml: cannot read ${missing}: .*ENOENT`));
      assert.ok(err.cause instanceof Error);
      return true;
    });
  });
});
