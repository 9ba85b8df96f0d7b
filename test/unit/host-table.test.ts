import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { normalizeHost, parseHosts } from '../../src/config/hosts.ts';
import { HostTable } from '../../src/proxy/frontends/host-table.ts';

function table(entries: Record<string, unknown>): HostTable<string> {
  const t = new HostTable<string>();
  for (const [name, hosts] of Object.entries(entries)) {
    const parsed = parseHosts(hosts);
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.message);
    assert.equal(t.add(parsed.value, name), undefined);
  }
  return t;
}

describe('hosts: and the host table', () => {
  it('routes exact names before one-level wildcards, ignoring case, port and a trailing dot', () => {
    const t = table({ app: 'app.example.com', previews: ['*.preview.example.com'], special: 'pr-1.preview.example.com' });
    assert.equal(t.lookup('APP.example.com:8080'), 'app');
    assert.equal(t.lookup('app.example.com.'), 'app');
    assert.equal(t.lookup('pr-7.preview.example.com'), 'previews');
    assert.equal(t.lookup('pr-1.preview.example.com'), 'special');
    assert.equal(t.lookup('a.b.preview.example.com'), undefined, 'a wildcard covers one label only');
    assert.equal(t.lookup('preview.example.com'), undefined);
    assert.equal(t.lookup('other.example.com'), undefined);
  });

  it('reports a host name claimed twice', () => {
    const t = table({ a: ['x.example.com'] });
    const again = parseHosts('X.example.com');
    assert.ok(again.ok);
    assert.equal(t.add(again.value, 'b'), 'x.example.com');
    assert.equal(t.lookup('x.example.com'), 'a', 'the first claim stays');
  });

  it('rejects malformed names with the index of the bad entry', () => {
    const bad = parseHosts(['ok.example.com', 'a.*.example.com']);
    assert.ok(!bad.ok);
    assert.match(bad.message, /^\[1\]: invalid host name "a\.\*\.example\.com"/);
    assert.ok(!parseHosts([]).ok);
    assert.ok(!parseHosts('bad_name.example.com').ok);
  });

  it('normalizes IPv6 literals without cutting them at a colon', () => {
    assert.equal(normalizeHost('[::1]:8080'), '[::1]');
    assert.equal(normalizeHost('Example.COM:80'), 'example.com');
  });
});
