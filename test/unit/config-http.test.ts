// The HTTP router's keys in portwake.yaml: http:, hosts:, paths:, strategy:, and the rules between
// them (a host and path claimed twice, hosts without http:, a listen-less service).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.ts';
import { parseCidr, parsePaths } from '../../src/config/http.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';

const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;
const parse = (text: string): PortwakeConfig => parseConfig(text, 'portwake.yaml');

function problems(text: string): string[] {
  try {
    parseConfig(text, 'portwake.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message.split('\n');
  }
  return assert.fail('expected the config to be rejected');
}

describe('config: http router', () => {
  it('reads http:, hosts:, paths: and strategy:, with a listen-less service and any-status readiness', () => {
    const c = parse(yaml(
      'http: {listen: [8080, "127.0.0.1:8081"], defaultService: api, trustForwarded: [10.0.0.0/8, "::1"]}',
      'services:',
      '  web: {hosts: [App.Example.com, "*.preview.example.com"], container: web}',
      '  api: {hosts: app.example.com, paths: [/api/, /v2], strategy: block, listen: 9000, container: api, ready: tcp}',
    ));
    assert.deepEqual(c.http, {
      listen: [{ kind: 'tcp', host: undefined, port: 8080, text: '8080' }, { kind: 'tcp', host: '127.0.0.1', port: 8081, text: '127.0.0.1:8081' }],
      defaultService: 'api', trustForwarded: ['10.0.0.0/8', '::1/128'], forwardedHeaders: true,
    });
    const [web, api] = c.services;
    assert.deepEqual(web?.listen, []);
    assert.deepEqual(web?.hosts, [{ kind: 'exact', name: 'app.example.com' }, { kind: 'wildcard', suffix: 'preview.example.com' }]);
    assert.deepEqual(web?.ready, { kind: 'http', path: '/', host: undefined, statusMin: 100, statusMax: 599 });
    assert.equal(web?.strategy, undefined);
    assert.deepEqual(api?.paths, ['/api', '/v2']);
    assert.equal(api?.strategy, 'block');
    assert.deepEqual(api?.ready, { kind: 'tcp' });
  });

  it('takes http: ADDR as short for http: {listen: ADDR}', () => {
    const c = parse(yaml('http: 80', 'services:', '  web: {hosts: a.example, container: web}'));
    assert.equal(c.http?.listen[0]?.text, '80');
    assert.equal(c.http?.forwardedHeaders, true);
  });

  it('names both services when two claim one host and path', () => {
    const p = problems(yaml(
      'http: 80',
      'services:',
      '  one: {hosts: [a.example, b.example], container: one}',
      '  two: {hosts: [B.example], container: two}',
      '  three: {hosts: a.example, paths: /api, container: three}',
    ));
    assert.equal(p.length, 1, p.join('\n'));
    assert.match(p[0] ?? '', /:4:\d+: services\.two\.hosts: host "b\.example" is claimed by service "one" \(services\.one\.hosts at line 3\) and by service "two"/);
  });

  it('rejects hosts: without http:, a service with neither listen nor hosts, stray paths/strategy, an unknown defaultService', () => {
    const p = problems(yaml(
      'services:',
      '  web: {hosts: a.example, container: web}',
      '  nothing: {container: x}',
      '  l4: {listen: 81, container: y, paths: /api, strategy: page}',
    ));
    assert.ok(p.some((l) => /services\.web\.hosts: needs a top-level "http: \{listen: 80\}"/.test(l)), p.join('\n'));
    assert.ok(p.some((l) => /services\.nothing\.listen: is required .*"hosts:" for the HTTP router/.test(l)), p.join('\n'));
    assert.ok(p.some((l) => /services\.l4\.paths: applies only to a service with "hosts:"/.test(l)), p.join('\n'));
    assert.ok(p.some((l) => /services\.l4\.strategy: applies only/.test(l)), p.join('\n'));
    const q = problems(yaml('http: {listen: 80, defaultService: wbe}', 'services:', '  web: {hosts: a.example, container: web}'));
    assert.match(q[0] ?? '', /http\.defaultService: no service named "wbe"; did you mean "web"\?/);
  });

  it('rejects an http listener on a service\'s address, bad CIDRs, paths and strategies, unknown keys', () => {
    const p = problems(yaml(
      'http: {listen: 80, trustForwarded: [10.0.0.0/33], forwardHeaders: false}',
      'services:',
      '  web: {listen: 80, hosts: "bad host", paths: [api], strategy: wait, container: web}',
    ));
    const text = p.join('\n');
    assert.match(text, /http\.trustForwarded: \[0\]: "10\.0\.0\.0\/33": an IPv4 prefix is at most \/32/);
    assert.match(text, /http\.forwardHeaders: unknown key; did you mean "forwardedHeaders"\?/);
    assert.match(text, /http\.listen: "80" is also used by service "web"/);
    assert.match(text, /services\.web\.hosts: invalid host name "bad host"/);
    assert.match(text, /services\.web\.paths: \[0\]: expected a path prefix like "\/api"/);
    assert.match(text, /services\.web\.strategy: expected "page" .* or "block"/);
  });

  it('parses CIDRs and path prefixes', () => {
    assert.deepEqual(parseCidr('fd00::/8'), { ok: true, value: { address: 'fd00::', prefix: 8, family: 6 } });
    assert.equal(parseCidr('10.0.0.1/x').ok, false);
    assert.equal(parseCidr('example.com').ok, false);
    assert.deepEqual(parsePaths('/'), { ok: true, value: ['/'] });
    assert.deepEqual(parsePaths(['/a//', '/b']), { ok: true, value: ['/a', '/b'] });
    assert.equal(parsePaths([]).ok, false);
    assert.equal(parsePaths('/a?b').ok, false);
  });
});

describe('config: examples/http', () => {
  it('is valid', async () => {
    const { loadConfig } = await import('../../src/config/load.ts');
    const config = await loadConfig(new URL('../../examples/http/portwake.yaml', import.meta.url).pathname);
    assert.deepEqual(config.services.map((s) => [s.name, s.listen.length, s.strategy ?? 'page']), [['wiki', 0, 'page'], ['wiki-api', 0, 'block'], ['previews', 0, 'page']]);
    assert.equal(config.http?.listen[0]?.text, '80');
  });
});
