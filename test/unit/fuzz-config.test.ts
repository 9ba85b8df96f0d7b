// Fuzzing the config input (fast-check, fixed seed): random text, mutations of good files, random
// structures written as YAML, random flags, and the field parsers (durations, addresses) on their
// own. Whatever comes in, the result is either a well-formed config or a ConfigError whose every
// line says where and what (`portwake.yaml:LINE:COL: PATH: MESSAGE`); never another exception.
// PORTWAKE_FUZZ_RUNS (default 150) and PORTWAKE_FUZZ_SEED (default 13) make a longer or other run.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parseControlAddress } from '../../src/config/control-address.ts';
import { MAX_DURATION_MS, parseDuration } from '../../src/config/duration.ts';
import { parseEndpoint } from '../../src/config/endpoint.ts';
import { ConfigError } from '../../src/config/errors.ts';
import { configFromFlags, type ProxyFlags } from '../../src/config/flags.ts';
import { parseHostPort } from '../../src/config/host-port.ts';
import { parseListenAddress } from '../../src/config/listen-address.ts';
import { parseConfig } from '../../src/config/load.ts';
import { SERVICE_NAME } from '../../src/config/schema.ts';
import type { ListenSpec, PortwakeConfig } from '../../src/config/types.ts';
import type { Parsed } from '../../src/config/parsed.ts';

const RUNS = Number(process.env['PORTWAKE_FUZZ_RUNS'] ?? 150);
const SEED = Number(process.env['PORTWAKE_FUZZ_SEED'] ?? 13);
const params = (scale = 1): fc.Parameters<unknown> => ({ seed: SEED, numRuns: Math.max(1, Math.round(RUNS * scale)), endOnFailure: false });

const EXAMPLE = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'portwake.yaml'), 'utf8');
const SEEDS = [
  EXAMPLE,
  'services:\n  web:\n    listen: 80\n    container: nginx8080\n',
  'control:\n  listen: 127.0.0.1:9090\n  token: s3cret\nservices:\n  a: {listen: ["127.0.0.1:8080", "[::1]:8080"], container: a, idleTimeout: 10m, ready: {http: {path: /h, status: 2xx}}}\n  b: {listen: "unix:/run/b.sock", socketMode: "0600", container: b, upstream: "unix:/run/b-up.sock", ready: {delay: 1.5s}}\n',
];

/** Messages must be plain sentences about the input, not leaked internals (NaN only where the input has one). */
const LEAKS = /\[object Object\]|\bundefined\b|TypeError|RangeError|Maximum call stack|\bat .*\.ts:\d+/;
function assertClear(message: string, input: unknown): void {
  assert.doesNotMatch(message, LEAKS, `input: ${fc.stringify(input)}`);
  if (!/nan/i.test(fc.stringify(input))) assert.doesNotMatch(message, /\bNaN\b/, `input: ${fc.stringify(input)}`);
}

function checkListen(l: ListenSpec): void {
  if (l.kind === 'tcp') assert.ok(Number.isInteger(l.port) && l.port >= 1 && l.port <= 65_535, `port ${l.port}`);
  if (l.kind === 'unix') assert.ok(l.path.startsWith('/') && !l.path.includes('\0'), `unix path ${l.path}`);
}

function checkConfig(config: PortwakeConfig): void {
  assert.ok(config.services.length > 0, 'an accepted config has services');
  const duration = (ms: number, zero = false): boolean => Number.isInteger(ms) && ms <= MAX_DURATION_MS && (zero ? ms >= 0 : ms > 0);
  for (const s of config.services) {
    assert.match(s.name, SERVICE_NAME);
    assert.ok(s.listen.length > 0);
    s.listen.forEach(checkListen);
    assert.ok(duration(s.startTimeoutMs), `startTimeoutMs ${s.startTimeoutMs}`);
    assert.ok(s.idleTimeoutMs === undefined || duration(s.idleTimeoutMs), `idleTimeoutMs ${s.idleTimeoutMs}`);
    assert.ok(duration(s.stopTimeoutMs, true) && s.stopTimeoutMs % 1000 === 0, `stopTimeoutMs ${s.stopTimeoutMs}`);
    assert.ok(Number.isSafeInteger(s.maxConnections) && s.maxConnections > 0);
    assert.ok(Number.isSafeInteger(s.maxPending) && s.maxPending > 0);
    assert.ok(s.port === undefined || (Number.isInteger(s.port) && s.port >= 1 && s.port <= 65_535));
  }
}

/** The file's text either parses into a well-formed config or is a ConfigError that says where. */
function checkText(text: string): void {
  const protoKeys = Object.getOwnPropertyNames(Object.prototype).length;
  let config: PortwakeConfig;
  try {
    config = parseConfig(text, '/etc/portwake/portwake.yaml');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${String(err)}\ninput: ${JSON.stringify(text)}`, { cause: err });
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.ok(err.issues.length > 0, 'a rejection lists at least one issue');
    const lines = text.split(/\r\n|\r|\n/).length;
    for (const issue of err.issues) {
      assert.ok(issue.message.trim().length > 0, 'every issue has a message');
      assertClear(issue.message, text);
      assert.ok(issue.line !== undefined && Number.isInteger(issue.line) && issue.line >= 1 && issue.line <= lines + 1, `line ${issue.line} of ${lines}: ${issue.message}`);
      assert.ok(issue.col !== undefined && Number.isInteger(issue.col) && issue.col >= 1, `col ${issue.col}: ${issue.message}`);
    }
    for (const line of err.message.split('\n')) assert.match(line, /^portwake\.yaml:\d+:\d+: \S/, 'every line starts with FILE:LINE:COL');
    return;
  } finally {
    assert.equal(Object.getOwnPropertyNames(Object.prototype).length, protoKeys, 'Object.prototype untouched');
  }
  checkConfig(config);
}

/** Never throws; an accepted value passes `valid`, a refusal has a message. */
function checkParser<T>(parse: (v: unknown) => Parsed<T>, value: unknown, valid: (v: T) => void): void {
  const r = parse(value);
  if (r.ok) valid(r.value);
  else {
    assert.ok(r.message.trim().length > 0);
    assertClear(r.message, value);
  }
}

// ---- generators ----

const YAML_TOKENS = [
  ':', ': ', '- ', '? ', '{', '}', '[', ']', ',', '"', "'", '|', '>', '#', '&a ', '*a', '&defaults ', '*defaults', '<<: *defaults',
  '<<: ', '!!binary ', '!!set ', '!!map ', '!!str ', '!!int ', '!!float ', '!!timestamp ', '!custom ', '%YAML 1.1\n', '---\n', '...\n',
  '~', 'null', 'true', 'no', 'yes', '.inf', '-.inf', '.nan', '0x1F', '0o17', '1e400', '-0', '12_000', '2001-12-14',
  '10m', '1m30s', '-1s', '0s', '1.5ms', '0.0001s', '596h', '597h', '99999999999999999999h', '1e3s', 'never', 'NEVER',
  '80', '0', '65535', '65536', '-1', '[::1]:80', '"[::1]:80"', '::1', '0.0.0.0:80', '256.1.1.1:80', 'localhost:http', 'unix:', 'unix:rel.sock',
  `unix:/${'x'.repeat(120)}`, 'systemd', 'systemd:', 'systemd:a:b', 'tcp://1.2.3.4:80', 'x-', '__proto__', 'constructor', 'prototype',
  'toString', 'hasOwnProperty', 'services', 'listen', 'container', 'control', 'engine', 'token', 'ready', 'http', 'delay', 'health',
  'idleTimeout', 'startTimeout', 'stopTimeout', 'maxConnections', 'maxPending', 'socketMode', 'upstream', 'port', 'status', 'path',
  '\t', '\0', '\uFEFF', '\u2028', '\r', '\n', '\n  ', '    ', 'é', '🙂', '\\', '\\u0000',
];

const token = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...YAML_TOKENS) }, fc.string({ maxLength: 8 }), fc.integer().map(String));

type Mutation = (text: string) => string;
const at = (text: string, f: number): number => Math.floor(f * (text.length + 1));

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), token).map(([f, tok]): Mutation => (s) => s.slice(0, at(s, f)) + tok + s.slice(at(s, f))),
  fc.tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 12 })).map(([f, n]): Mutation => (s) => s.slice(0, at(s, f)) + s.slice(at(s, f) + n)),
  fc.tuple(fc.nat(), token).map(([i, tok]): Mutation => (s) => {
    // Replace the value after a key's colon on one line.
    const lines = s.split('\n');
    const n = i % lines.length;
    lines[n] = (lines[n] ?? '').replace(/:(\s*).*$/, (_m, sp: string) => `:${sp || ' '}${tok}`);
    return lines.join('\n');
  }),
  fc.tuple(fc.nat(), fc.nat()).map(([i, j]): Mutation => (s) => {
    const lines = s.split('\n');
    const [a, b] = [i % lines.length, j % lines.length];
    [lines[a], lines[b]] = [lines[b] ?? '', lines[a] ?? ''];
    return lines.join('\n');
  }),
  fc.nat().map((i): Mutation => (s) => {
    const lines = s.split('\n');
    lines.splice(i % lines.length, 0, lines[i % lines.length] ?? '');
    return lines.join('\n');
  }),
  fc.tuple(fc.nat(), fc.integer({ min: -4, max: 4 })).map(([i, d]): Mutation => (s) => {
    const lines = s.split('\n');
    const n = i % lines.length;
    const line = lines[n] ?? '';
    lines[n] = d >= 0 ? ' '.repeat(d) + line : line.replace(new RegExp(`^ {0,${-d}}`), '');
    return lines.join('\n');
  }),
);

const mutatedYaml = fc.tuple(fc.constantFrom(...SEEDS), fc.array(mutation, { minLength: 1, maxLength: 6 }))
  .map(([seed, ms]) => ms.reduce((text, m) => m(text), seed));

const durationText = fc.oneof(
  fc.array(fc.tuple(
    fc.oneof(fc.nat({ max: 1000 }).map(String), fc.double({ min: 0, max: 1e6, noNaN: true }).map(String), fc.constantFrom('0', '00', '1e3', '-1', '.5', '5.', '99999999999999999999', '1.0000000001')),
    fc.constantFrom('ms', 's', 'm', 'h', 'd', '', 'S', 'MS', ' ', 'us', 'µs', 'sec'),
  ), { minLength: 1, maxLength: 4 }).map((parts) => parts.map(([n, u]) => n + u).join('')),
  fc.constantFrom('never', '', ' ', '10 m', '1m 30s', '1h1h1h1h', '596h', '596h31m23s647ms', '596h31m23s648ms'),
  fc.string({ maxLength: 10 }),
);

const hostText = fc.oneof(
  fc.ipV4(), fc.ipV6().map((h) => `[${h}]`), fc.ipV6(), fc.domain(), fc.constantFrom('localhost', '', '[]', '[::1', '::1]', '1.2.3', '999.0.0.1', '[fe80::1%eth0]', '*'),
  fc.string({ maxLength: 12 }),
);
const portText = fc.oneof(fc.integer({ min: -10, max: 70_000 }).map(String), fc.constantFrom('', 'http', '08', '1e3', '0x50', ' 80'), fc.string({ maxLength: 5 }));
const addressText = fc.oneof(
  fc.tuple(hostText, portText).map(([h, p]) => `${h}:${p}`),
  portText,
  hostText,
  fc.tuple(fc.constantFrom('unix:', 'systemd:', 'tcp://', 'http://', 'unix://'), fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom('/run/a.sock', 'rel.sock', `/${'d'.repeat(110)}`))).map(([a, b]) => a + b),
);

/** Any scalar or small structure a YAML value could be. */
const yamlValue = fc.oneof(
  { weight: 3, arbitrary: addressText },
  { weight: 3, arbitrary: durationText },
  { weight: 2, arbitrary: fc.constantFrom(...YAML_TOKENS) },
  fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
  fc.jsonValue({ maxDepth: 2 }),
  fc.array(addressText, { maxLength: 3 }),
);

const SERVICE_KEYS = ['listen', 'socketMode', 'container', 'port', 'upstream', 'ready', 'startTimeout', 'idleTimeout', 'stopTimeout', 'maxConnections', 'maxPending'];
const keyText = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...SERVICE_KEYS) }, fc.constantFrom('__proto__', 'constructor', 'x-a', 'listn'), fc.string({ maxLength: 6 }));
const serviceBody = fc.dictionary(keyText, yamlValue, { maxKeys: 8 }).map((body) => ({ listen: '127.0.0.1:8080', container: 'c', ...body }));
const serviceName = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('web', 'api', 'a.b-c_d') }, fc.string({ maxLength: 8 }));
const structured = fc.record({
  services: fc.oneof({ weight: 5, arbitrary: fc.dictionary(serviceName, serviceBody, { minKeys: 0, maxKeys: 3 }) }, yamlValue),
  control: fc.option(fc.oneof(fc.dictionary(fc.constantFrom('listen', 'token', 'socketMode', 'tokn'), yamlValue, { maxKeys: 3 }), yamlValue), { nil: undefined }),
  engine: fc.option(yamlValue, { nil: undefined }),
}, { requiredKeys: ['services'] }).map((root) => stringify(root));

const flagText = fc.option(fc.oneof(durationText, addressText, fc.string({ maxLength: 10 })), { nil: undefined });
const proxyFlags: fc.Arbitrary<ProxyFlags> = fc.record({
  listen: fc.array(addressText, { maxLength: 3 }),
  container: fc.oneof(fc.constantFrom('web', 'nginx8080'), fc.string({ maxLength: 10 })),
  name: flagText, upstream: flagText, port: flagText, ready: fc.option(fc.oneof(fc.constantFrom('tcp', 'health', 'http', 'http:/x', 'http:', 'delay:1s', 'delay:', 'delay:never'), durationText), { nil: undefined }),
  startTimeout: flagText, idle: flagText, stopTimeout: flagText, maxConnections: flagText, maxPending: flagText,
  socketMode: flagText, engine: flagText, control: flagText, token: flagText,
});

// ---- properties ----

describe('fuzz: config files', () => {
  it('random text is a config or a ConfigError with line:col on every line', () => {
    fc.assert(fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.array(token, { maxLength: 40 }).map((a) => a.join(''))), checkText), params());
  });

  it('mutated good files: the same', () => {
    fc.assert(fc.property(mutatedYaml, checkText), params(2));
  });

  it('random structures written as YAML: the same', () => {
    fc.assert(fc.property(structured, checkText), params(2));
  });

  it('the seed files themselves are accepted', () => {
    for (const seed of SEEDS) checkConfig(parseConfig(seed, 'portwake.yaml'));
  });
});

describe('fuzz: portwake proxy flags', () => {
  it('random flags are a config or a ConfigError naming the flag', () => {
    fc.assert(fc.property(proxyFlags, (flags) => {
      try {
        checkConfig(configFromFlags(flags, { cwd: '/srv' }));
      } catch (err) {
        if (!(err instanceof ConfigError)) throw new Error(`not a ConfigError: ${String(err)}\nflags: ${JSON.stringify(flags)}`, { cause: err });
        assert.ok(err.issues.length > 0);
        for (const issue of err.issues) {
          assert.match(issue.path, /^--[a-z-]+$/, `issue names a flag: ${issue.path}: ${issue.message}`);
          assertClear(issue.message, flags);
        }
      }
    }), params());
  });
});

describe('fuzz: field parsers', () => {
  it('durations: never throw; accepted ones are whole milliseconds 1..2^31-1', () => {
    fc.assert(fc.property(fc.oneof(durationText, fc.anything()), (v) => {
      checkParser((x) => parseDuration(x), v, (ms) => assert.ok(Number.isInteger(ms) && ms > 0 && ms <= MAX_DURATION_MS, `${fc.stringify(v)} → ${ms}`));
      checkParser((x) => parseDuration(x, { zero: true, wholeSeconds: true }), v, (ms) => assert.ok(ms >= 0 && ms % 1000 === 0));
    }), params(2));
  });

  it('durations: a sum of whole parts is read exactly', () => {
    const units = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 } as const;
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat({ max: 500 }), fc.constantFrom(...(Object.keys(units) as Array<keyof typeof units>))), { minLength: 1, maxLength: 4 }), (parts) => {
      const ms = parts.reduce((sum, [n, u]) => sum + n * units[u], 0);
      const r = parseDuration(parts.map(([n, u]) => `${n}${u}`).join(''));
      if (ms === 0 || ms > MAX_DURATION_MS) assert.equal(r.ok, false);
      else assert.deepEqual(r, { ok: true, value: ms });
    }), params());
  });

  it('addresses: never throw; accepted ones have a port 1-65535 or an absolute socket path', () => {
    fc.assert(fc.property(fc.oneof(addressText, fc.anything()), (v) => {
      checkParser((x) => parseListenAddress(x), v, checkListen);
      checkParser((x) => parseListenAddress(x, { baseDir: '/srv' }), v, checkListen);
      checkParser((x) => parseControlAddress(x), v, (a) => checkListen(a.kind === 'tcp' ? { ...a, text: '' } : { ...a, mode: undefined, text: '' }));
      checkParser((x) => parseEndpoint(x), v, (e) => checkListen(e.kind === 'tcp' ? { ...e, text: '' } : { ...e, mode: undefined, text: '' }));
      if (typeof v === 'string') checkParser(() => parseHostPort(v), v, (hp) => assert.ok(hp.port >= 1 && hp.port <= 65_535));
    }), params(2));
  });
});

describe('config input found by fuzzing', () => {
  it('an alias bomb is refused at once, not after walking its expansion (it took 73 s, the event loop blocked)', () => {
    const rows = ['x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [from, to] of [['a', 'b'], ['b', 'c'], ['c', 'd'], ['d', 'e'], ['e', 'f']] as const) rows.push(`x-${to}: &${to} [${`*${from},`.repeat(8)}*${from}]`);
    rows.push('services: {web: {listen: 80, container: a, x: *f}}');
    const t0 = Date.now();
    assert.throws(() => parseConfig(`${rows.join('\n')}\n`, 'portwake.yaml'), /portwake\.yaml:1:1: Excessive alias count/);
    const ms = Date.now() - t0;
    assert.ok(ms < 10_000, `refused after ${ms} ms`);
  });
});

describe('config input found by fuzzing: nesting', () => {
  it('a document nested thousands of levels deep is refused as such, once, not with "Maximum call stack size exceeded"', () => {
    assert.throws(() => parseConfig(`services: ${'['.repeat(3000)}${']'.repeat(3000)}\n`, 'portwake.yaml'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(err.message.split('\n').map((l) => l.replace(/^portwake\.yaml:\d+:\d+: /, '')), ['nested too deeply to read (lists or maps inside each other hundreds of levels deep)']);
      return true;
    });
  });
});

describe('config input found by fuzzing: documents', () => {
  it('a second YAML document is refused in portwake\'s words, not the library\'s ("please use YAML.parseAllDocuments()")', () => {
    assert.throws(() => parseConfig('services: {web: {listen: 80, container: a}}\n---\nservices: {}\n', 'portwake.yaml'),
      { name: 'ConfigError', message: 'portwake.yaml:2:1: a second YAML document starts here ("---"); portwake reads one document: put everything in the first' });
  });
});
