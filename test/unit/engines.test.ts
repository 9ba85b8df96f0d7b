// Several engines: the engines: key and a service's engine: (config), one provider per engine
// (wiring), the engine in status, the CLI table and the metrics, and a daemon with two fake engines
// whose containers share a name: each engine's events and outages reach only its own services.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { formatStatusTable } from '../../src/cli/status-format.ts';
import { createControlMetrics } from '../../src/control/metrics.ts';
import { systemClock } from '../../src/core/clock.ts';
import type { ServiceStatus } from '../../src/core/status.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { planReload } from '../../src/daemon/reload-plan.ts';
import { createProviders } from '../../src/daemon/wiring.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import type { Logger } from '../../src/core/logger.ts';
import { eventually, freePort, freePorts } from '../support/daemon-harness.ts';

interface LogLine { level: string; bindings: Record<string, unknown>; msg: string }

/** Keeps every line with its child bindings (the engine is one). */
function capturingLogger(lines: LogLine[], bindings: Record<string, unknown> = {}): Logger {
  const at = (level: string) => (_obj: object, msg: string): void => { lines.push({ level, bindings, msg }); };
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => capturingLogger(lines, { ...bindings, ...b }) };
}

function configError(yaml: string): string {
  try {
    parseConfig(yaml, '/etc/portwake/portwake.yaml');
  } catch (err) {
    return (err as Error).message;
  }
  return assert.fail('expected a config error');
}

describe('engines: in the config', () => {
  it('names engines by address or {host, tls}; a service picks one with engine:, the default otherwise', () => {
    const config = parseConfig([
      'engine: unix:///var/run/docker.sock',
      'engines:',
      '  podman: unix:///run/podman/podman.sock',
      '  remote:',
      '    host: tcp://build.example:2376',
      '    tls: {ca: /etc/portwake/certs/ca.pem, cert: /etc/pw/cert.pem, key: /etc/pw/key.pem}',
      '  insecure: {host: "tcp://10.0.0.9:2376", tls: {verify: false}}',
      'services:',
      '  web: {listen: 80, container: web, engine: podman}',
      '  api: {listen: 81, container: api}',
      '  build: {listen: 82, container: build, engine: default}',
      '',
    ].join('\n'), '/etc/portwake/portwake.yaml');
    assert.equal(config.engineHost, 'unix:///var/run/docker.sock');
    assert.deepEqual(config.engines, [
      { name: 'podman', host: 'unix:///run/podman/podman.sock' },
      { name: 'remote', host: 'tcp://build.example:2376', tls: { ca: '/etc/portwake/certs/ca.pem', cert: '/etc/pw/cert.pem', key: '/etc/pw/key.pem', verify: true } },
      { name: 'insecure', host: 'tcp://10.0.0.9:2376', tls: { verify: false } },
    ]);
    assert.deepEqual(config.services.map((s) => [s.name, s.engine]), [['web', 'podman'], ['api', undefined], ['build', 'default']]);
  });

  it('an unknown engine is an error naming the service, the known engines and the closest one', () => {
    const text = configError('engines:\n  podman: unix:///run/podman/podman.sock\nservices:\n  web: {listen: 80, container: web, engine: podmn}\n');
    assert.match(text, /portwake\.yaml:4:\d+: services\.web\.engine: service "web" names engine "podmn", which is not defined \(known engines: default, podman\); define it under engines:; did you mean "podman"\?/);
    assert.match(configError('services:\n  web: {listen: 80, container: web, engine: podman}\n'), /known engines: default\)/);
  });

  it('bad engines are reported where they are: the reserved name, names, hosts, TLS keys and files', () => {
    const text = configError([
      'engines:',
      '  default: unix:///x',
      '  "bad name": unix:///y',
      '  nohost: {tls: {}}',
      '  ssh: ssh://me@host',
      '  unixtls: {host: "unix:///run/x.sock", tls: {ca: /ca.pem}}',
      '  half: {host: "tcp://h:2376", tls: {cert: /c.pem}}',
      '  typo: {hots: "tcp://h:2376"}',
      '  verify: {host: "tcp://h:2376", tls: {verify: yes}}',
      'services:',
      '  web: {listen: 80, container: web}',
      '',
    ].join('\n'));
    assert.match(text, /:2:3: engines\.default: "default" is the top-level engine: key; give its address there/);
    assert.match(text, /engines\["bad name"\]: invalid engine name "bad name"/);
    assert.match(text, /engines\.nohost\.host: is required/);
    assert.match(text, /engines\.ssh(\.host)?: .*ssh:\/\/ engines are not supported/);
    assert.match(text, /engines\.unixtls\.tls: applies only to a tcp:\/\/ engine/);
    assert.match(text, /engines\.half\.tls\.cert: give cert and key together/);
    assert.match(text, /engines\.typo\.hots: unknown key; did you mean "host"\?/);
    assert.match(text, /engines\.verify\.tls\.verify: expected true or false, got "yes"/);
    assert.match(configError('engines: unix:///x\nservices:\n  web: {listen: 80, container: web}\n'), /engines: expected a map of engine name to address/);
  });

  it('a reload that moves a service to another engine replaces it (never an update in place)', () => {
    const running = parseConfig('engines: {podman: "unix:///p.sock"}\nservices:\n  web: {listen: 80, container: web}\n', 'a.yaml');
    const next = parseConfig('engines: {podman: "unix:///p.sock"}\nservices:\n  web: {listen: 80, container: web, engine: podman}\n', 'a.yaml');
    assert.equal(planReload(running.services, next).services[0]?.action, 'replace');
  });
});

describe('one provider per engine', () => {
  it('wiring makes "default" from engine:/DOCKER_HOST and one per engines: entry, each with its own endpoint', () => {
    const config = parseConfig('engines:\n  podman: unix:///run/podman/podman.sock\n  remote: tcp://10.1.2.3:2375\nservices:\n  web: {listen: 80, container: web}\n', 'a.yaml');
    const providers = createProviders(config, { DOCKER_HOST: 'unix:///tmp/d.sock' });
    assert.deepEqual([...providers].map(([name, p]) => [name, p.endpoint]), [
      ['default', 'unix:///tmp/d.sock'], ['podman', 'unix:///run/podman/podman.sock'], ['remote', 'tcp://10.1.2.3:2375'],
    ]);
  });

  it('a TLS engine whose files cannot be read is refused at start, naming the endpoint and the file', () => {
    const config = parseConfig('engines:\n  remote: {host: "tcp://h:2376", tls: {ca: /nonexistent/ca.pem}}\nservices:\n  web: {listen: 80, container: web}\n', 'a.yaml');
    assert.throws(() => createProviders(config, {}), (err: Error) => /tcp:\/\/h:2376 \(TLS\)/.test(err.message) && /\/nonexistent\/ca\.pem/.test(String((err.cause as Error | undefined)?.message)));
  });
});

describe('the engine in status and metrics', () => {
  const base: ServiceStatus = {
    name: 'web', container: 'web', state: 'ready', lastError: undefined, lastErrorCode: undefined, listeners: [], openConnections: 0, heldConnections: 0,
    bytesIn: 0, bytesOut: 0, lastActivity: undefined, lastStart: undefined, idleDeadline: undefined,
  };
  const c = { bold: (s: string) => s, red: (s: string) => s, green: (s: string) => s, yellow: (s: string) => s, dim: (s: string) => s };

  it('the status table has an ENGINE column only when a service is on a named engine', () => {
    const one = formatStatusTable([{ ...base, engine: 'default' }], Date.now(), c);
    assert.doesNotMatch(one, /ENGINE/);
    const two = formatStatusTable([{ ...base, engine: 'default' }, { ...base, name: 'db', engine: 'podman' }], Date.now(), c);
    assert.match(two, /^SERVICE\s+ENGINE\s+STATE/);
    assert.match(two, /^db\s+podman\s+ready/m);
  });

  it('portwake_service_info names each service\'s engine and container', async () => {
    const metrics = createControlMetrics({ status: () => [{ ...base, engine: 'podman', container: 'pg' }], defaultMetrics: false });
    assert.match(await metrics.render(), /^portwake_service_info\{service="web",engine="podman",container="pg"\} 1$/m);
  });
});

describe('a daemon on two engines (fake providers, one container name on both)', () => {
  async function twoEngines(t: TestContext): Promise<{ daemon: Daemon; a: FakeProvider; b: FakeProvider; lines: LogLine[]; pa: number; pb: number }> {
    const a = new FakeProvider(systemClock);
    const b = new FakeProvider(systemClock);
    a.add({ name: 'app', listenMs: 0 });
    b.add({ name: 'app', listenMs: 0 });
    const [pa, pb] = await freePorts(2);
    const config = parseConfig(`engines:\n  b: unix:///nonexistent/b.sock\nservices:\n  sa: {listen: "127.0.0.1:${pa}", container: app, upstream: "127.0.0.1:1"}\n  sb: {listen: "127.0.0.1:${pb}", container: app, upstream: "127.0.0.1:1", engine: b}\n`, 'two.yaml');
    const lines: LogLine[] = [];
    const daemon = await Daemon.start({ config, configPath: undefined, logger: capturingLogger(lines), env: {}, stopOnExit: false, graceMs: 0, exitIdleMs: undefined, provider: a, providers: new Map([['b', b]]), clock: systemClock });
    t.after(() => daemon.shutdown('test end'));
    return { daemon, a, b, lines, pa, pb };
  }
  const state = (d: Daemon, name: string): string | undefined => d.status().find((s) => s.name === name)?.state;

  it('an event on one engine reaches only the services on that engine', async (t) => {
    const { daemon, a, b } = await twoEngines(t);
    await Promise.all([daemon.start('sa'), daemon.start('sb')]);
    assert.deepEqual(daemon.status().map((s) => [s.name, s.engine, s.state]), [['sa', 'default', 'ready'], ['sb', 'b', 'ready']]);
    await new Promise((r) => setTimeout(r, 100)); // both events streams subscribed
    b.kill('app');
    await eventually('sb saw its container die', () => state(daemon, 'sb') === 'stopped', 5_000);
    assert.equal(state(daemon, 'sa'), 'ready', 'the container of the same name on the other engine is not touched');
    assert.equal((await a.inspect('app')).running, true);
  });

  it('one engine unreachable: its service fails to start, naming its engine; the other engine\'s service starts', async (t) => {
    const { daemon, b, lines } = await twoEngines(t);
    b.unreachable = true;
    await assert.rejects(daemon.start('sb'), (err: Error & { code?: string }) => err.code === 'PROVIDER_UNREACHABLE');
    await daemon.start('sa');
    assert.equal(state(daemon, 'sa'), 'ready');
    assert.notEqual(state(daemon, 'sb'), 'ready');
    assert.ok(lines.some((l) => l.bindings['engine'] === 'b' && l.bindings['service'] === 'sb'), `the failed service's log lines carry its engine: ${JSON.stringify(lines)}`);
  });

  it('a reload naming an engine portwake did not start with is rejected, and everything keeps running; moving a service to a known engine works', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pw-engines-reload-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'portwake.yaml');
    const a = new FakeProvider(systemClock);
    const b = new FakeProvider(systemClock);
    a.add({ name: 'app', listenMs: 0 });
    b.add({ name: 'app', listenMs: 0 });
    const port = await freePort();
    const yaml = (engines: string, engine: string): string => `engines: {${engines}}\nservices:\n  web: {listen: "127.0.0.1:${port}", container: app, upstream: "127.0.0.1:1"${engine}}\n`;
    writeFileSync(file, yaml('b: "unix:///nonexistent/b.sock"', ''));
    const lines: LogLine[] = [];
    const daemon = await Daemon.start({ config: parseConfig(yaml('b: "unix:///nonexistent/b.sock"', ''), file), configPath: file, logger: capturingLogger(lines), env: {}, stopOnExit: false, graceMs: 0, exitIdleMs: undefined, provider: a, providers: new Map([['b', b]]), clock: systemClock });
    t.after(() => daemon.shutdown('test end'));

    writeFileSync(file, yaml('b: "unix:///nonexistent/b.sock", c: "unix:///nonexistent/c.sock"', ', engine: c'));
    await assert.rejects(daemon.reload(), /service "web": engine "c" is not one portwake started with \(known: default, b\); engines: changes take effect when portwake restarts/);
    assert.deepEqual(daemon.status().map((s) => [s.name, s.engine]), [['web', 'default']]);

    writeFileSync(file, yaml('b: "unix:///nonexistent/b.sock"', ', engine: b'));
    await daemon.reload();
    assert.deepEqual(daemon.status().map((s) => [s.name, s.engine]), [['web', 'b']]);
    await daemon.start('web');
    assert.equal((await b.inspect('app')).running, true, 'started on engine b');
    assert.equal((await a.inspect('app')).running, false, 'not on the default engine');
  });
});
