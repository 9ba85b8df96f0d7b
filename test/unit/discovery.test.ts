// Discovery without an engine: labels → a service through the file's schema (every problem with its
// label), the label table, clashes with the file and between containers (reported, the later one
// not served), compose's recreate slot, and the follow loop (a burst of events → one listing; a
// broken stream → reconnect and list again) on a scripted LabelSource and a manual clock.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withDiscoverFlags } from '../../src/config/discovery.ts';
import { formatLabelProblem, LABELS, serviceFromLabels } from '../../src/config/labels.ts';
import { parseConfig } from '../../src/config/load.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { Discovery, SETTLE_MS, type Found } from '../../src/daemon/discovery/discovery.ts';
import type { LabelledContainerInfo, LabelSource } from '../../src/daemon/discovery/label-source.ts';
import { mergeDiscovered } from '../../src/daemon/discovery/merge.ts';
import { parseLabelEvent } from '../../src/providers/docker/container-label-events.ts';
import { ManualClock } from '../support/manual-clock.ts';

const box = (name: string, labels: Record<string, string>, created = 1): LabelledContainerInfo => ({ id: `id-${name}`, name, labels, created });

function problems(labels: Record<string, string>, prefix = 'pw'): string[] {
  const r = serviceFromLabels(box('app-1', labels), prefix);
  return r.ok ? [] : r.problems.map(formatLabelProblem);
}

describe('labels → service', () => {
  it('maps every label of the table to its key, through the file\'s parsers', () => {
    const r = serviceFromLabels(box('shop_web_1', {
      'pw.listen': '8080, 127.0.0.1:8081', 'pw.port': '80', 'pw.ready': 'http:/healthz', 'pw.idle-timeout': '10m',
      'pw.start-timeout': '30s', 'pw.stop-timeout': '2s', 'pw.max-connections': '10', 'pw.max-pending': '5',
      'com.docker.compose.service': 'web', 'other.label': 'ignored',
    }), 'pw');
    assert.ok(r.ok);
    const s = r.service;
    assert.equal(s.name, 'web');
    assert.equal(s.container, 'shop_web_1');
    assert.deepEqual(s.listen.map((l) => l.text), ['8080', '127.0.0.1:8081']);
    assert.deepEqual([s.port, s.idleTimeoutMs, s.startTimeoutMs, s.stopTimeoutMs, s.maxConnections, s.maxPending], [80, 600_000, 30_000, 2_000, 10, 5]);
    assert.deepEqual(s.ready, { kind: 'http', path: '/healthz', host: undefined, statusMin: 200, statusMax: 399 });
    // Every row is exercised above but upstream (which excludes port): a new row must be added here too.
    assert.deepEqual(LABELS.map((l) => l.label).sort(), ['depends-on', 'hold-timeout', 'hosts', 'idle-action', 'idle-on', 'idle-timeout', 'listen', 'max-connections', 'max-pending',
      'paths', 'port', 'proxy-protocol', 'ready', 'restart-policy', 'start-timeout', 'stop-after', 'stop-timeout', 'strategy', 'tls-port', 'upstream']);
  });

  it('maps the stack and pause labels: depends-on (comma-separated), idle-action, stop-after, idle-on, hold-timeout, restart-policy, proxy-protocol', () => {
    const r = serviceFromLabels(box('shop_api_1', {
      'pw.listen': '8080', 'pw.depends-on': 'db, cache', 'pw.idle-timeout': '5m', 'pw.idle-action': 'pause', 'pw.stop-after': '1h', 'pw.idle-on': 'traffic',
      'pw.hold-timeout': '5s', 'pw.restart-policy': 'manage', 'pw.proxy-protocol': 'v2',
    }), 'pw');
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatLabelProblem).join('\n'));
    const s = r.service;
    assert.deepEqual([s.dependsOn, s.idleAction, s.stopAfterMs, s.idleOn, s.holdTimeoutMs, s.restartPolicy, s.proxyProtocol],
      [['db', 'cache'], 'pause', 3_600_000, 'traffic', 5_000, 'manage', 'v2']);
    // Their values are checked as the file's are.
    assert.deepEqual(problems({ 'pw.listen': '80', 'pw.idle-action': 'freeze', 'pw.depends-on': 'db,,x y' }).length, 2);
  });

  it('hosts, paths, strategy and tls-port for the file\'s routers: the HTTP router\'s readiness default; without a router, an error naming the fix', () => {
    const labels = { 'pw.hosts': 'App.example.com, *.preview.example.com', 'pw.paths': '/api', 'pw.strategy': 'block', 'pw.tls-port': '8443' };
    const r = serviceFromLabels(box('shop_app_1', labels), 'pw', { http: true, tls: true });
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatLabelProblem).join('\n'));
    assert.deepEqual([r.service.hosts, r.service.paths, r.service.strategy, r.service.tlsPort, r.service.listen],
      [[{ kind: 'exact', name: 'app.example.com' }, { kind: 'wildcard', suffix: 'preview.example.com' }], ['/api'], 'block', 8443, []]);
    assert.equal(r.service.ready.kind, 'http', 'behind the HTTP router any HTTP answer is ready');
    assert.deepEqual(problems(labels), ['container "app-1": label pw.hosts: needs a top-level "http: {listen: 80}" or "tls: {listen: 443}" to route these hosts from']);
  });

  it('a container without listen is a dependency only: valid alone, its depends-on names checked once all are known', () => {
    const r = serviceFromLabels(box('shop_db_1', { 'pw.port': '5432', 'com.docker.compose.service': 'db' }), 'pw');
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatLabelProblem).join('\n'));
    assert.deepEqual([r.service.name, r.service.listen], ['db', []]);
  });

  it('names the service by its name label, else the compose service, else the container', () => {
    const name = (labels: Record<string, string>): string | undefined => {
      const r = serviceFromLabels(box('ctr', { 'pw.listen': '80', ...labels }), 'pw');
      return r.ok ? r.service.name : undefined;
    };
    assert.equal(name({ 'pw.name': 'api', 'com.docker.compose.service': 'web' }), 'api');
    assert.equal(name({ 'com.docker.compose.service': 'web' }), 'web');
    assert.equal(name({}), 'ctr');
  });

  it('reports every bad label at once: container, label, what is wrong', () => {
    assert.deepEqual(problems({ 'pw.listen': '8080,nope:x', 'pw.idle-timeout': 'ten', 'pw.idle_timout': '1s', 'pw.ready': 'htp', 'pw.name': 'bad name' }), [
      'container "app-1": label pw.idle_timout: unknown label; did you mean "pw.idle-timeout"?',
      'container "app-1": label pw.ready: expected tcp, health, http, http:/PATH or delay:DURATION, got "htp"; did you mean "http"?',
      'container "app-1": label pw.name: invalid service name "bad name": use letters, digits, "_", "." and "-", starting with a letter or digit',
      'container "app-1": label pw.listen (address 2): "nope:x": "x" is not a port number',
      'container "app-1": label pw.idle-timeout: expected a duration like "10m", got "ten"',
    ]);
    assert.deepEqual(problems({ 'pw.listen': 'systemd:web' }), [
      'container "app-1": label pw.listen: systemd: sockets are passed when systemd starts portwake, not to a discovered container; use a file service, or a TCP or unix: address',
    ]);
    assert.deepEqual(problems({ 'pw.listen': '80', 'pw.port': '80', 'pw.upstream': '10.0.0.1:80' }), [
      'container "app-1": label pw.port: has no effect when "upstream" is set; remove one of them',
    ]);
    assert.deepEqual(problems({ 'pw.listen': 'unix:run/app.sock' }).length, 1);
  });

  it('--discover and its flags: defaults, the file\'s settings, and bad values naming the flag', () => {
    assert.deepEqual(withDiscoverFlags(undefined, { discover: true }).discovery, { docker: { labelPrefix: 'portwake', filter: [] } });
    const file = parseConfig('discovery:\n  docker:\n    labelPrefix: acme\n    filter: [a=b, c]\n', 'portwake.yaml');
    assert.deepEqual(file.services, []);
    assert.deepEqual(withDiscoverFlags(file, { discover: true }).discovery, { docker: { labelPrefix: 'acme', filter: ['a=b', 'c'] } });
    assert.deepEqual(withDiscoverFlags(file, { discover: true, labelFilter: ['x=y'] }).discovery?.docker.filter, ['x=y']);
    assert.throws(() => withDiscoverFlags(undefined, { labelPrefix: 'x' }), /--label-prefix: needs --discover/);
    assert.throws(() => withDiscoverFlags(undefined, { discover: true, labelPrefix: 'bad prefix.' }), /--label-prefix: expected a label prefix/);
    assert.throws(() => parseConfig('discovery:\n  docker:\n    labelPrefx: a\n', 'portwake.yaml'), /portwake.yaml:3:5: discovery.docker.labelPrefx: unknown key; did you mean "labelPrefix"\?/);
    assert.throws(() => parseConfig('engine: unix:///x.sock\n', 'portwake.yaml'), /services: is required/);
  });
});

describe('clashes', () => {
  const file = parseConfig('control: 127.0.0.1:9090\nservices:\n  web: {listen: 8080, container: w}\n', 'portwake.yaml');
  const candidate = (container: string, labels: Record<string, string>) => {
    const r = serviceFromLabels(box(container, labels), 'pw');
    assert.ok(r.ok);
    return { id: container, container, service: r.service, labelOf: (k: string) => (k === 'name' ? (labels['pw.name'] === undefined ? undefined : 'pw.name') : r.labelOf(k)) };
  };

  it('with the file, the control API and an earlier container: reported, the later one not served', () => {
    const merged = mergeDiscovered(file, [
      candidate('a', { 'pw.listen': '127.0.0.1:8080' }),
      candidate('b', { 'pw.listen': '9090' }),
      candidate('c', { 'pw.listen': '8081', 'pw.name': 'web' }),
      candidate('d', { 'pw.listen': '8082' }),
      candidate('e', { 'pw.listen': '8083', 'pw.name': 'd' }),
      candidate('f', { 'pw.listen': '[::]:8082' }),
    ], 'portwake.yaml');
    assert.deepEqual(merged.config.services.map((s) => s.name), ['web', 'd']);
    assert.deepEqual(merged.clashes.map(formatLabelProblem), [
      'container "a": label pw.listen: "127.0.0.1:8080" overlaps "8080" of service "web" of portwake.yaml; not served',
      'container "b": label pw.listen: "9090" overlaps "127.0.0.1:9090" of the control API; not served',
      'container "c": label pw.name: service name "web" is taken by service "web" of portwake.yaml; not served',
      'container "e": label pw.name: service name "d" is taken by service "d" (container "d"); not served',
      'container "f": label pw.listen: "[::]:8082" overlaps "8082" of service "d" (container "d"); not served',
    ]);
  });
});

describe('stacks across containers', () => {
  const file = parseConfig('services:\n  web: {listen: 8080, container: w}\n', 'portwake.yaml');
  const candidate = (container: string, labels: Record<string, string>, engine?: string) => {
    const r = serviceFromLabels(box(container, labels), 'pw');
    assert.ok(r.ok, r.ok ? '' : r.problems.map(formatLabelProblem).join('\n'));
    return { id: container, container, ...(engine === undefined ? { service: r.service } : { engine, service: { ...r.service, engine } }), labelOf: (k: string) => (k === 'name' ? undefined : r.labelOf(k)) };
  };

  it('serves a dependency that a container names; reports one nobody names, an unknown name, and a cycle; a dependent of a removed one fails in turn', () => {
    const merged = mergeDiscovered(file, [
      candidate('api', { 'pw.listen': '8081', 'pw.depends-on': 'db,web' }),
      candidate('db', { 'pw.port': '5432' }),
      candidate('orphan', { 'pw.port': '6379' }),
      candidate('typo', { 'pw.listen': '8082', 'pw.depends-on': 'dbb' }),
      candidate('x', { 'pw.listen': '8083', 'pw.depends-on': 'y' }),
      candidate('y', { 'pw.listen': '8084', 'pw.depends-on': 'x' }),
      candidate('z', { 'pw.listen': '8085', 'pw.depends-on': 'orphan2' }),
      candidate('orphan2', { 'pw.port': '1', 'pw.depends-on': 'x' }),
    ], 'portwake.yaml');
    assert.deepEqual(merged.config.services.map((s) => s.name), ['web', 'api', 'db']);
    const text = merged.clashes.map(formatLabelProblem);
    assert.ok(text.some((t) => t.startsWith('container "orphan": label pw.listen: is required') && t.endsWith('; not served')), text.join('\n'));
    assert.ok(text.some((t) => t.startsWith('container "typo": label pw.depends-on: no service named "dbb"; did you mean "db"?')), text.join('\n'));
    assert.ok(text.some((t) => t.startsWith('container "x": label pw.depends-on: cycle x → y → x')), text.join('\n'));
    // y's partner was removed: y now names an unknown service, and so on down the chain.
    assert.ok(text.some((t) => t.startsWith('container "y": label pw.depends-on: no service named "x"')), text.join('\n'));
    assert.ok(text.some((t) => t.startsWith('container "z": label pw.depends-on: no service named "orphan2"')), text.join('\n'));
  });

  it('takes the containers with a label under the prefix, and only those (the engine filters by the user\'s labels alone); a non-default engine is set on their services', () => {
    const discovery = new Discovery({ source: new ScriptedSource(), labelPrefix: 'pw', engine: 'podman', clock: new ManualClock(), logger: silentLogger, signal: new AbortController().signal, onChange: () => undefined });
    const found = discovery.found([box('plain', { 'com.docker.compose.service': 'plain', 'pwx.listen': '1' }), box('db', { 'pw.port': '5432' }), box('bad', { 'pw.listen': 'x' })]);
    assert.deepEqual(found.candidates.map((c) => [c.container, c.engine, c.service.engine]), [['db', 'podman', 'podman']]);
    assert.deepEqual(found.problems.map((p) => [p.container, p.engine]), [['bad', 'podman']]);
  });

  it('a host and path the file or an earlier container routes already is a clash; with tls: a host alone is', () => {
    const routed = parseConfig('http: 127.0.0.1:8080\nservices:\n  web: {container: w, hosts: www.example.com}\n', 'portwake.yaml');
    const host = (container: string, labels: Record<string, string>) => {
      const r = serviceFromLabels(box(container, labels), 'pw', { http: true, tls: true });
      assert.ok(r.ok, r.ok ? '' : r.problems.map(formatLabelProblem).join('\n'));
      return { id: container, container, service: r.service, labelOf: (k: string) => (k === 'name' ? undefined : r.labelOf(k)) };
    };
    const merged = mergeDiscovered(routed, [
      host('a', { 'pw.hosts': 'www.example.com' }),
      host('b', { 'pw.hosts': 'www.example.com', 'pw.paths': '/api' }),
      host('c', { 'pw.hosts': 'c.example.com' }),
      host('d', { 'pw.hosts': 'C.example.com' }),
      host('e', { 'pw.listen': '127.0.0.1:8080' }),
    ], 'portwake.yaml');
    assert.deepEqual(merged.config.services.map((s) => s.name), ['web', 'b', 'c']);
    assert.deepEqual(merged.clashes.map(formatLabelProblem), [
      'container "a": label pw.hosts: host "www.example.com" is claimed by service "web" of portwake.yaml; not served',
      'container "d": label pw.hosts: host "c.example.com" is claimed by service "c" (container "c"); not served',
      'container "e": label pw.listen: "127.0.0.1:8080" is also used by the HTTP router; not served',
    ]);
    const tls = parseConfig('tls: 127.0.0.1:8443\nservices:\n  web: {listen: 8081, container: w, hosts: www.example.com}\n', 'portwake.yaml');
    assert.deepEqual(mergeDiscovered(tls, [host('b', { 'pw.hosts': 'www.example.com', 'pw.paths': '/api' })], 'portwake.yaml').clashes.map(formatLabelProblem),
      ['container "b": label pw.hosts: host "www.example.com" is a host of service "web" of portwake.yaml (the TLS router sees the host name only); not served']);
  });

  it('names a container\'s engine when it is not the default one', () => {
    const merged = mergeDiscovered(file, [candidate('p', { 'pw.listen': '8080' }, 'podman')], 'portwake.yaml');
    assert.deepEqual(merged.clashes.map(formatLabelProblem), ['container "p" on engine "podman": label pw.listen: "8080" is also used by service "web" of portwake.yaml; not served']);
  });
});

/** A LabelSource whose list and events the test scripts. */
class ScriptedSource implements LabelSource {
  readonly endpoint = 'scripted';
  containers: LabelledContainerInfo[] = [];
  lists = 0;
  private push: ((e: { kind: string; id: string; name: string } | Error) => void) | undefined;
  async list(): Promise<LabelledContainerInfo[]> {
    this.lists++;
    return [...this.containers];
  }
  async *events(signal: AbortSignal): AsyncIterable<{ kind: string; id: string; name: string }> {
    const queue: Array<{ kind: string; id: string; name: string } | Error> = [];
    let wake: (() => void) | undefined;
    this.push = (e) => { queue.push(e); wake?.(); };
    while (!signal.aborted) {
      const next = queue.shift();
      if (next instanceof Error) throw next;
      if (next !== undefined) { yield next; continue; }
      await new Promise<void>((r) => { wake = r; signal.addEventListener('abort', () => r(), { once: true }); });
    }
  }
  emit(e: { kind: string; id: string; name: string } | Error): void {
    this.push?.(e);
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('following the engine', () => {
  it('a burst of events is one listing; a broken stream reconnects and lists again; changes only are handed over', async (t) => {
    const source = new ScriptedSource();
    const clock = new ManualClock();
    const stop = new AbortController();
    t.after(() => stop.abort());
    const changes: Found[] = [];
    const d = new Discovery({ source, labelPrefix: 'pw', clock, logger: silentLogger, signal: stop.signal, onChange: (f) => changes.push(f) });
    source.containers = [box('a', { 'pw.listen': '8080' })];
    await d.syncNow();
    assert.deepEqual(changes.map((f) => f.candidates.map((c) => c.container)), [['a']]);
    void d.follow();
    await tick();
    source.containers.push(box('b', { 'pw.listen': '8081' }, 2), box('c', { 'pw.listen': '8082', 'pw.port': 'x' }, 3));
    for (const n of ['b', 'c']) source.emit({ kind: 'create', id: `id-${n}`, name: n });
    await tick();
    const before = source.lists;
    await clock.advance(SETTLE_MS);
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(source.lists, before + 1);
    assert.deepEqual(changes.at(-1)?.candidates.map((c) => c.container), ['a', 'b']);
    assert.deepEqual(changes.at(-1)?.problems.map(formatLabelProblem), ['container "c": label pw.port: expected a port number 1-65535, got "x"']);
    // Nothing changed: nothing handed over.
    source.emit({ kind: 'rename', id: 'id-a', name: 'a' });
    await tick();
    await clock.advance(SETTLE_MS);
    for (let i = 0; i < 5; i++) await tick();
    assert.equal(changes.length, 2);
    // The stream breaks; meanwhile "a" went away: after the reconnect it is listed again.
    source.containers = source.containers.filter((c) => c.name !== 'a');
    source.emit(new Error('engine restarted'));
    for (let i = 0; i < 5; i++) await tick();
    await clock.advance(100);
    for (let i = 0; i < 5; i++) await tick();
    await clock.advance(50);
    for (let i = 0; i < 5; i++) await tick();
    await clock.advance(0);
    for (let i = 0; i < 5; i++) await tick();
    assert.deepEqual(changes.at(-1)?.candidates.map((c) => c.container), ['b']);
  });

  it('compose\'s recreate: the newer container of one project/service/number stands for the slot; otherwise the older keeps a clash', () => {
    const d = new Discovery({ source: new ScriptedSource(), labelPrefix: 'pw', clock: new ManualClock(), logger: silentLogger, signal: new AbortController().signal, onChange: () => undefined });
    const slot = { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web', 'com.docker.compose.container-number': '1' };
    const found = d.found([box('x_shop_web_1', { ...slot, 'pw.listen': '80' }, 1), box('shop_web_1', { ...slot, 'pw.listen': '80,81' }, 2)]);
    assert.deepEqual(found.candidates.map((c) => [c.container, c.service.name]), [['shop_web_1', 'web']]);
    const plain = d.found([box('old', { 'pw.listen': '90' }, 5), box('new', { 'pw.listen': '90' }, 6)]);
    assert.deepEqual(plain.candidates.map((c) => c.container), ['old', 'new']);
  });
});

describe('label events from the engine', () => {
  it('reads Docker\'s create, rename and destroy, and Podman\'s remove as destroy; the labels without the engine\'s attributes', () => {
    const line = (Action: string, Attributes: Record<string, string> = { name: 'web-1', image: 'busybox', 'pw.listen': '80' }): string =>
      JSON.stringify({ Type: 'container', Action, Actor: { ID: 'abc', Attributes }, timeNano: 2_000_000_000 });
    assert.deepEqual(parseLabelEvent(line('create')), { kind: 'create', id: 'abc', name: 'web-1', labels: { 'pw.listen': '80' }, time: 2_000 });
    assert.equal(parseLabelEvent(line('destroy'))?.kind, 'destroy');
    assert.equal(parseLabelEvent(line('remove'))?.kind, 'destroy', 'Podman says remove');
    assert.equal(parseLabelEvent(line('rename', { name: 'new', oldName: '/old' }))?.name, 'new');
    assert.equal(parseLabelEvent(line('start')), undefined);
    assert.equal(parseLabelEvent(JSON.stringify({ Type: 'network', Action: 'create', Actor: { ID: 'n' } })), undefined);
  });
});
