// Wake filters: the hand-written CIDR matcher (checked against node:net's BlockList with
// fast-check), the filter's evaluation order, `wake:` in the config, and Activation.mayWake.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { parseConfig } from '../../src/config/load.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { cidrContains, parseCidr, parseIP, type Cidr } from '../../src/core/cidr.ts';
import { wakeVerdict, type WakeSpec } from '../../src/core/wake.ts';
import { Activation } from '../../src/core/activation/activation.ts';
import { silentLogger } from '../../src/core/logger.ts';
import type { DaemonEvent } from '../../src/core/status.ts';
import { FakeProvider } from '../../src/providers/fake/provider.ts';
import { ManualClock } from '../support/manual-clock.ts';

const RUNS = Number(process.env['PORTWAKE_FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['PORTWAKE_FUZZ_SEED'] ?? 13);

function cidr(text: string): Cidr {
  const c = parseCidr(text);
  if (typeof c === 'string') assert.fail(c);
  return c;
}

function contains(block: string, address: string): boolean {
  const a = parseIP(address);
  assert.ok(a !== undefined, `${address} parses`);
  return cidrContains(cidr(block), a);
}

describe('CIDR matcher', () => {
  it('parses IPv4 and IPv6 addresses, including "::" forms, embedded IPv4 and zones', () => {
    const hex = (t: string): string => Buffer.from(parseIP(t) ?? assert.fail(`${t} did not parse`)).toString('hex');
    assert.equal(hex('10.1.2.3'), '00000000000000000000ffff0a010203');
    assert.equal(hex('::1'), '00000000000000000000000000000001');
    assert.equal(hex('::'), '00000000000000000000000000000000');
    assert.equal(hex('2001:db8::8:800:200c:417a'), '20010db8000000000008080020 0c417a'.replace(' ', ''));
    assert.equal(hex('::ffff:10.1.2.3'), hex('10.1.2.3'));
    assert.equal(hex('::1.2.3.4'), '00000000000000000000000001020304');
    assert.equal(hex('fe80::1%eth0'), 'fe800000000000000000000000000001');
    assert.equal(hex('1:2:3:4:5:6:7:8'), '00010002000300040005000600070008');
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '::1::', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', 'g::1', ':1', 'localhost', '1.2.3.4:80']) {
      assert.equal(parseIP(bad), undefined, `${JSON.stringify(bad)} is no address`);
    }
  });

  it('matches blocks of both families; IPv4-mapped IPv6 clients match IPv4 blocks', () => {
    assert.ok(contains('10.0.0.0/8', '10.200.3.4'));
    assert.ok(!contains('10.0.0.0/8', '11.0.0.1'));
    assert.ok(contains('10.0.0.0/8', '::ffff:10.0.0.1'));
    assert.ok(contains('192.168.1.7', '192.168.1.7'));
    assert.ok(!contains('192.168.1.7', '192.168.1.8'));
    assert.ok(contains('0.0.0.0/0', '8.8.8.8'));
    assert.ok(!contains('0.0.0.0/0', '2001:db8::1'), 'an IPv4 block never holds a (non-mapped) IPv6 address');
    assert.ok(contains('2001:db8::/32', '2001:db8:ffff::1'));
    assert.ok(!contains('2001:db8::/32', '2001:db9::1'));
    assert.ok(contains('::/0', '1.2.3.4'), '::/0 holds everything, mapped IPv4 included');
    assert.ok(contains('172.16.0.0/12', '172.31.255.255'));
    assert.ok(!contains('172.16.0.0/12', '172.32.0.0'));
  });

  it('rejects bad blocks with a message that says how to fix them', () => {
    const message = (text: string): string => {
      const c = parseCidr(text);
      return typeof c === 'string' ? c : assert.fail(`${text} was accepted`);
    };
    assert.match(message('10.0.0.1/8'), /bits set past its \/8 prefix \(did you mean "10\.0\.0\.0\/8"\?\)/);
    assert.match(message('10.0.0.0/33'), /from 0 to 32/);
    assert.match(message('::/129'), /from 0 to 128/);
    assert.match(message('example.com/8'), /not an IPv4 or IPv6 address/);
    assert.match(message('2001:db8::1/32'), /did you mean "2001:db8::\/32"/);
  });

  it('agrees with node:net BlockList on random blocks and addresses (fast-check)', () => {
    const v4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    const v6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((w) => w.map((x) => x.toString(16)).join(':'));
    const maskV4 = (a: string, bits: number): string => {
      const n = a.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
      const m = bits === 0 ? 0 : Number((BigInt(n) >> BigInt(32 - bits)) << BigInt(32 - bits));
      return [24, 16, 8, 0].map((s) => (m >>> s) & 255).join('.');
    };
    fc.assert(fc.property(v4, fc.nat(32), v4, (base, bits, probe) => {
      const block = `${maskV4(base, bits)}/${bits}`;
      const list = new net.BlockList();
      list.addSubnet(maskV4(base, bits), bits, 'ipv4');
      assert.equal(contains(block, probe), list.check(probe, 'ipv4'), `${probe} in ${block}`);
      // The same address as a dual-stack socket reports it.
      assert.equal(contains(block, `::ffff:${probe}`), list.check(probe, 'ipv4'));
    }), { seed: SEED, numRuns: RUNS });
    fc.assert(fc.property(v6, fc.nat(128), v6, (base, bits, probe) => {
      const list = new net.BlockList();
      list.addSubnet(base, bits, 'ipv6');
      const block = { ...cidr(base), bits };
      const masked = Uint8Array.from(block.bytes, (b, i) => b & ((0xff << (8 - Math.max(0, Math.min(8, bits - i * 8)))) & 0xff));
      assert.equal(cidrContains({ ...block, bytes: masked }, parseIP(probe) ?? assert.fail()), list.check(probe, 'ipv6'), `${probe} in ${base}/${bits}`);
      assert.equal(cidrContains({ ...block, bytes: masked }, parseIP(base) ?? assert.fail()), true, 'a block holds its own base');
    }), { seed: SEED, numRuns: RUNS });
  });

  it('never throws on random text (fast-check)', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (s) => {
      const c = parseCidr(s);
      assert.ok(typeof c === 'string' || c.bits <= 128);
      parseIP(s);
    }), { seed: SEED, numRuns: RUNS * 4 });
  });
});

describe('wake filter evaluation', () => {
  const spec: WakeSpec = {
    allow: { sources: [cidr('10.0.0.0/8'), cidr('::1')] },
    deny: { sources: [cidr('10.9.0.0/16')], methods: ['HEAD'], paths: ['/robots.txt', '/favicon.ico'], userAgents: ['uptimerobot'] },
  };

  it('deny wins over allow; allow.sources then restricts who may wake', () => {
    assert.equal(wakeVerdict(spec, { source: '10.1.2.3' }), undefined);
    assert.equal(wakeVerdict(spec, { source: '::ffff:10.1.2.3' }), undefined);
    assert.equal(wakeVerdict(spec, { source: '::1' }), undefined);
    assert.match(wakeVerdict(spec, { source: '10.9.1.1' }) ?? '', /deny\.sources 10\.9\.0\.0\/16/);
    assert.match(wakeVerdict(spec, { source: '192.168.1.1' }) ?? '', /not in allow\.sources/);
    assert.match(wakeVerdict(spec, { source: '' }) ?? '', /not in allow\.sources/, 'no address (a unix socket): only wakes without allow.sources');
    assert.equal(wakeVerdict({ deny: { sources: [cidr('10.0.0.0/8')] } }, { source: '' }), undefined);
  });

  it('HTTP rules apply to HTTP requests only', () => {
    assert.match(wakeVerdict(spec, { source: '10.1.1.1', method: 'head', path: '/' }) ?? '', /method HEAD/);
    assert.match(wakeVerdict(spec, { source: '10.1.1.1', method: 'GET', path: '/robots.txt?x=1' }) ?? '', /deny\.paths/);
    assert.match(wakeVerdict(spec, { source: '10.1.1.1', method: 'GET', path: '/favicon.ico' }) ?? '', /deny\.paths/);
    assert.equal(wakeVerdict(spec, { source: '10.1.1.1', method: 'GET', path: '/app/robots.txt' }), undefined, 'a prefix, not a substring');
    assert.match(wakeVerdict(spec, { source: '10.1.1.1', method: 'GET', path: '/', userAgent: 'Mozilla/5.0+(compatible; UptimeRobot/2.0)' }) ?? '', /User-Agent/);
    assert.equal(wakeVerdict(spec, { source: '10.1.1.1', method: 'GET', path: '/', userAgent: 'Mozilla/5.0' }), undefined);
    assert.equal(wakeVerdict(spec, { source: '10.1.1.1' }), undefined, 'an L4 connection has no method, path or User-Agent');
  });

  it('no filter: everything may wake', () => {
    assert.equal(wakeVerdict(undefined, { source: 'whatever' }), undefined);
    assert.equal(wakeVerdict({}, { source: '1.2.3.4', method: 'HEAD' }), undefined);
  });
});

describe('wake: in the config', () => {
  const yaml = (wake: string): string => `services:\n  web:\n    listen: 127.0.0.1:8080\n    container: web\n    wake:\n${wake}`;

  it('reads allow and deny, one value or a list', () => {
    const c = parseConfig(yaml('      allow: {sources: 10.0.0.0/8}\n      deny:\n        sources: ["10.9.0.0/16", "fd00::/8"]\n        methods: head\n        paths: [/robots.txt]\n        userAgents: [UptimeRobot]\n'), 'test.yaml');
    const wake = c.services[0]?.wake;
    assert.deepEqual(wake?.allow?.sources?.map((s) => s.text), ['10.0.0.0/8']);
    assert.deepEqual(wake?.deny?.sources?.map((s) => s.text), ['10.9.0.0/16', 'fd00::/8']);
    assert.deepEqual(wake?.deny?.methods, ['HEAD']);
    assert.deepEqual(wake?.deny?.paths, ['/robots.txt']);
    assert.deepEqual(wake?.deny?.userAgents, ['uptimerobot']);
    assert.equal(parseConfig('services:\n  web: {listen: 8080, container: web}\n', 'test.yaml').services[0]?.wake, undefined);
  });

  it('says where and what is wrong', () => {
    const cases: Array<[string, RegExp]> = [
      ['      deny: {sources: [10.0.0.0/8, 10.0.0.1/8]}\n', /test\.yaml:\d+:\d+: services\.web\.wake\.deny\.sources\[1\]: .*did you mean "10\.0\.0\.0\/8"/],
      ['      deny: {paths: [robots.txt]}\n', /wake\.deny\.paths\[0\]: expected a request path starting with "\/"/],
      ['      deny: {method: HEAD}\n', /wake\.deny.*method.*did you mean "methods"/],
      ['      allow: {methods: [GET]}\n', /wake\.allow.*methods/],
      ['      deny: {sources: []}\n', /wake\.deny\.sources: expected at least one entry/],
    ];
    for (const [wake, want] of cases) {
      assert.throws(() => parseConfig(yaml(wake), 'test.yaml'), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, want);
        return true;
      });
    }
  });
});

describe('Activation.mayWake', () => {
  it('asks the filter only while the service is neither up nor starting; refusals are counted as events', async () => {
    const clock = new ManualClock();
    const provider = new FakeProvider(clock);
    provider.add({ name: 'app', startMs: 50, listenMs: 200 });
    const events: DaemonEvent[] = [];
    const a = new Activation(
      { name: 'web', container: 'app', port: undefined, upstream: undefined, ready: { kind: 'tcp' }, startTimeoutMs: 60_000, idleTimeoutMs: 10_000, stopTimeoutMs: 10_000, wake: { deny: { sources: [cidr('127.0.0.2')] } } },
      { provider, probes: provider.probes(), clock, logger: silentLogger, emit: (e) => events.push(e) },
    );
    assert.equal(a.mayWake({ source: '::ffff:127.0.0.2' }), false);
    assert.equal(a.mayWake({ source: '127.0.0.1' }), true);
    a.refused('wake_refused');
    assert.deepEqual(events.filter((e) => e.type === 'refused').map((e) => e.type === 'refused' && e.reason), ['wake_refused']);
    assert.equal(provider.startCalls, 0);
    a.prepare();
    assert.equal(a.stateKind, 'starting');
    assert.equal(a.mayWake({ source: '127.0.0.2' }), true, 'starting: all traffic flows');
    await clock.advance(300);
    assert.equal(a.stateKind, 'ready');
    assert.equal(a.mayWake({ source: '127.0.0.2' }), true, 'ready: all traffic flows');
    await a.stop('control');
    assert.equal(a.mayWake({ source: '127.0.0.2' }), false, 'stopped again: the filter decides');
    a.dispose();
  });
});
