// The pure field parsers behind portwake.yaml and `portwake proxy`: durations, listen addresses,
// upstreams, socket modes, engine hosts, did-you-mean and address overlap.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseControlAddress } from '../../src/config/control-address.ts';
import { MAX_DURATION_MS, parseDuration } from '../../src/config/duration.ts';
import { parseEndpoint } from '../../src/config/endpoint.ts';
import { parseEngineHost } from '../../src/config/engine-host.ts';
import { isLoopback, parsePort } from '../../src/config/host-port.ts';
import { parseListenAddress } from '../../src/config/listen-address.ts';
import { overlaps, type Address } from '../../src/config/listen-overlap.ts';
import type { Parsed } from '../../src/config/parsed.ts';
import { parseStatusRange } from '../../src/config/ready.ts';
import { parseSocketMode } from '../../src/config/socket-mode.ts';
import { closest, didYouMean, editDistance } from '../../src/config/suggest.ts';

function value<T>(p: Parsed<T>): T {
  if (!p.ok) assert.fail(`expected success, got: ${p.message}`);
  return p.value;
}

function message<T>(p: Parsed<T>): string {
  if (p.ok) assert.fail(`expected failure, got ${JSON.stringify(p.value)}`);
  return p.message;
}

describe('parseDuration', () => {
  it('reads every unit and combinations', () => {
    assert.equal(value(parseDuration('250ms')), 250);
    assert.equal(value(parseDuration('30s')), 30_000);
    assert.equal(value(parseDuration('10m')), 600_000);
    assert.equal(value(parseDuration('1h')), 3_600_000);
    assert.equal(value(parseDuration('1m30s')), 90_000);
    assert.equal(value(parseDuration('1h2m3s4ms')), 3_723_004);
    assert.equal(value(parseDuration('1.5s')), 1500);
    assert.equal(value(parseDuration('1.1s')), 1100);
    assert.equal(value(parseDuration(' 5s ')), 5000);
  });

  it('rejects bare numbers and suggests seconds', () => {
    assert.equal(message(parseDuration(30)), 'expected a duration like "10m", got 30; did you mean "30s"?');
    assert.equal(message(parseDuration('30')), 'expected a duration like "10m", got "30"; did you mean "30s"?');
    assert.equal(message(parseDuration('2.5')), 'expected a duration like "10m", got "2.5"; did you mean "2.5s"?');
    assert.equal(message(parseDuration(-1)), 'expected a duration like "10m", got -1');
  });

  it('rejects other text and non-strings', () => {
    assert.equal(message(parseDuration('ten')), 'expected a duration like "10m", got "ten"');
    assert.equal(message(parseDuration('10 m')), 'expected a duration like "10m", got "10 m"');
    assert.equal(message(parseDuration('10d')), 'expected a duration like "10m", got "10d"');
    assert.equal(message(parseDuration('-5s')), 'expected a duration like "10m", got "-5s"');
    assert.equal(message(parseDuration('')), 'expected a duration like "10m", got ""');
    assert.equal(message(parseDuration(null)), 'expected a duration like "10m", got nothing');
    assert.equal(message(parseDuration(['1s'])), 'expected a duration like "10m", got a list');
    assert.equal(message(parseDuration(true)), 'expected a duration like "10m", got true');
  });

  it('suggests lower case for upper-case units', () => {
    assert.equal(message(parseDuration('10M')), 'expected a duration like "10m", got "10M"; did you mean "10m"?');
  });

  it('zero only when allowed, whole milliseconds, whole seconds when asked', () => {
    assert.equal(message(parseDuration('0s')), 'expected a duration longer than 0, got "0s"');
    assert.equal(value(parseDuration('0s', { zero: true })), 0);
    assert.equal(message(parseDuration('1.5ms')), '"1.5ms" is not a whole number of milliseconds');
    assert.equal(message(parseDuration('1500ms', { wholeSeconds: true })), 'expected whole seconds like "10s", got "1500ms"');
    assert.equal(value(parseDuration('2000ms', { wholeSeconds: true })), 2000);
  });

  it('rejects what a Node.js timer cannot hold', () => {
    assert.equal(value(parseDuration(`${MAX_DURATION_MS}ms`)), MAX_DURATION_MS);
    assert.equal(message(parseDuration('597h')), '"597h" is too long; the longest supported duration is 596h');
  });
});

describe('parseListenAddress', () => {
  it('a port alone listens on every address', () => {
    assert.deepEqual(value(parseListenAddress('80')), { kind: 'tcp', host: undefined, port: 80, text: '80' });
    assert.deepEqual(value(parseListenAddress(8080)), { kind: 'tcp', host: undefined, port: 8080, text: '8080' });
  });

  it('HOST:PORT and [IPv6]:PORT', () => {
    assert.deepEqual(value(parseListenAddress('0.0.0.0:80')), { kind: 'tcp', host: '0.0.0.0', port: 80, text: '0.0.0.0:80' });
    assert.deepEqual(value(parseListenAddress('[::]:80')), { kind: 'tcp', host: '::', port: 80, text: '[::]:80' });
    assert.deepEqual(value(parseListenAddress('[::1]:65535')), { kind: 'tcp', host: '::1', port: 65535, text: '[::1]:65535' });
    assert.deepEqual(value(parseListenAddress('localhost:3000')), { kind: 'tcp', host: 'localhost', port: 3000, text: 'localhost:3000' });
  });

  it('unix sockets: absolute, normalised, resolved against a base directory when given', () => {
    assert.deepEqual(value(parseListenAddress('unix:/run/app.sock')), { kind: 'unix', path: '/run/app.sock', mode: undefined, text: 'unix:/run/app.sock' });
    assert.deepEqual(value(parseListenAddress('unix:/run/x/../app.sock', { mode: 0o600 })), { kind: 'unix', path: '/run/app.sock', mode: 0o600, text: 'unix:/run/app.sock' });
    assert.equal(value(parseListenAddress('unix:app.sock', { baseDir: '/srv' })).text, 'unix:/srv/app.sock');
    assert.equal(message(parseListenAddress('unix:app.sock')), 'expected an absolute socket path like "unix:/run/portwake/app.sock", got "unix:app.sock"');
    assert.equal(message(parseListenAddress('unix:')), 'the socket path after "unix:" is empty');
    const long = `/run/${'a'.repeat(110)}.sock`;
    assert.match(message(parseListenAddress(`unix:${long}`)), /is 120 bytes long; the limit is 107$/);
  });

  it('systemd and systemd:NAME', () => {
    assert.deepEqual(value(parseListenAddress('systemd')), { kind: 'systemd', name: undefined, text: 'systemd' });
    assert.deepEqual(value(parseListenAddress('systemd:web-http')), { kind: 'systemd', name: 'web-http', text: 'systemd:web-http' });
    assert.match(message(parseListenAddress('systemd:')), /the name after "systemd:" must be 1-255 printable ASCII/);
    assert.match(message(parseListenAddress('systemd:a:b')), /without ":"/);
  });

  it('explains what is wrong with a bad address', () => {
    assert.equal(message(parseListenAddress('0')), '"0": port 0 is out of range 1-65535');
    assert.equal(message(parseListenAddress(65536)), '"65536": port 65536 is out of range 1-65535');
    assert.equal(message(parseListenAddress('0.0.0.0:99999')), '"0.0.0.0:99999": port 99999 is out of range 1-65535');
    assert.equal(message(parseListenAddress('::1:80')), '"::1:80": put an IPv6 address in brackets, e.g. "[::1]:80"');
    assert.equal(message(parseListenAddress('[::1]')), '"[::1]": missing the port after "[::1]", e.g. "[::1]:80"');
    assert.equal(message(parseListenAddress('[1.2.3.4]:80')), '"[1.2.3.4]:80": "1.2.3.4" in brackets is not an IPv6 address');
    assert.equal(message(parseListenAddress('300.1.1.1:80')), '"300.1.1.1:80": "300.1.1.1" is not an IPv4 address');
    assert.equal(message(parseListenAddress('web')), '"web": missing the port, e.g. "web:80"');
    assert.equal(message(parseListenAddress(':80')), '":80": the host before ":80" is empty');
    assert.equal(message(parseListenAddress('host:http')), '"host:http": "http" is not a port number');
    assert.match(message(parseListenAddress('tcp://0.0.0.0:80')), /no URL scheme/);
    assert.equal(message(parseListenAddress('udp:0.0.0.0:53')), '"udp:0.0.0.0:53": unknown scheme "udp:", expected PORT, HOST:PORT, [IPv6]:PORT, unix:/path, systemd or systemd:NAME');
    assert.equal(message(parseListenAddress('tcp:[::]:80')), '"tcp:[::]:80": unknown scheme "tcp:", expected PORT, HOST:PORT, [IPv6]:PORT, unix:/path, systemd or systemd:NAME');
    assert.equal(message(parseListenAddress('fe80::1:80')), '"fe80::1:80": put an IPv6 address in brackets, e.g. "[fe80::1]:80"');
    assert.equal(message(parseEndpoint('udp:127.0.0.1:53')), '"udp:127.0.0.1:53": unknown scheme "udp:", expected HOST:PORT, [IPv6]:PORT or unix:/path');
    assert.equal(message(parseControlAddress('vsock:/x')), '"vsock:/x": unknown scheme "vsock:", expected unix:/path or HOST:PORT');
    assert.equal(message(parseListenAddress({ port: 80 })), 'expected PORT, HOST:PORT, [IPv6]:PORT, unix:/path, systemd or systemd:NAME, got a map');
  });
});

describe('parseEndpoint', () => {
  it('HOST:PORT, [IPv6]:PORT and unix:/path', () => {
    assert.deepEqual(value(parseEndpoint('127.0.0.1:8080')), { kind: 'tcp', host: '127.0.0.1', port: 8080 });
    assert.deepEqual(value(parseEndpoint('db:5432')), { kind: 'tcp', host: 'db', port: 5432 });
    assert.deepEqual(value(parseEndpoint('[fd00::2]:80')), { kind: 'tcp', host: 'fd00::2', port: 80 });
    assert.deepEqual(value(parseEndpoint('unix:/run/app/app.sock')), { kind: 'unix', path: '/run/app/app.sock' });
    assert.deepEqual(value(parseEndpoint('unix:app.sock', '/srv')), { kind: 'unix', path: '/srv/app.sock' });
  });

  it('a port alone needs a host', () => {
    assert.equal(message(parseEndpoint('8080')), 'expected HOST:PORT, [IPv6]:PORT or unix:/path, got "8080"; a port alone needs a host, e.g. "127.0.0.1:8080"');
    assert.equal(message(parseEndpoint(8080)), 'expected HOST:PORT, [IPv6]:PORT or unix:/path, got 8080; a port alone needs a host, e.g. "127.0.0.1:8080"');
  });

  it('rejects URLs and broken addresses', () => {
    assert.match(message(parseEndpoint('http://127.0.0.1:8080')), /no URL scheme/);
    assert.equal(message(parseEndpoint('127.0.0.1:0')), '"127.0.0.1:0": port 0 is out of range 1-65535');
  });
});

describe('control addresses', () => {
  it('needs an explicit host for TCP and refuses systemd', () => {
    assert.deepEqual(value(parseControlAddress('127.0.0.1:9090')), { kind: 'tcp', host: '127.0.0.1', port: 9090 });
    assert.deepEqual(value(parseControlAddress('unix:/run/portwake/control.sock')), { kind: 'unix', path: '/run/portwake/control.sock' });
    assert.equal(message(parseControlAddress('9090')), '"9090": give the address to listen on, e.g. "127.0.0.1:9090" (or "0.0.0.0:9090" with a token)');
    assert.match(message(parseControlAddress('systemd')), /systemd sockets are for services only/);
  });

  it('tells loopback apart', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '0:0:0:0:0:0:0:1', 'localhost', 'LOCALHOST', 'api.localhost', '::ffff:127.0.0.1']) {
      assert.equal(isLoopback(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.1', 'example.com', '::ffff:10.0.0.1', 'localhost.example.com']) {
      assert.equal(isLoopback(host), false, host);
    }
  });
});

describe('small fields', () => {
  it('ports', () => {
    assert.equal(value(parsePort(1)), 1);
    assert.equal(value(parsePort('65535')), 65535);
    assert.equal(message(parsePort(1.5)), 'expected a port number 1-65535, got 1.5');
    assert.equal(message(parsePort('http')), 'expected a port number 1-65535, got "http"');
  });

  it('socket modes are quoted octal strings', () => {
    assert.equal(value(parseSocketMode('0660')), 0o660);
    assert.equal(value(parseSocketMode('600')), 0o600);
    assert.equal(value(parseSocketMode('0o770')), 0o770);
    assert.equal(message(parseSocketMode(660)), 'expected an octal string like "0660", got the number 660; quote the mode, e.g. socketMode: "0660"');
    assert.equal(message(parseSocketMode('0880')), 'expected an octal string like "0660", got "0880"');
    assert.equal(message(parseSocketMode('rw-rw----')), 'expected an octal string like "0660", got "rw-rw----"');
  });

  it('engine hosts in DOCKER_HOST syntax', () => {
    for (const ok of ['unix:///var/run/docker.sock', 'tcp://10.0.0.2:2376', 'unix:///run/podman/podman.sock']) {
      assert.equal(value(parseEngineHost(ok)), ok);
    }
    // What the Docker provider cannot reach is refused when the file is read, not at the first connection.
    assert.match(message(parseEngineHost('ssh://me@host')), /ssh:\/\/ engines are not supported; use unix:\/\/\/path\/to\/docker.sock or tcp:\/\/host:port/);
    assert.match(message(parseEngineHost('npipe:////./pipe/docker_engine')), /npipe:\/\/ engines are not supported/);
    assert.match(message(parseEngineHost('unix:/var/run/docker.sock')), /did you mean "unix:\/\/\/var\/run\/docker.sock"\?$/);
    assert.match(message(parseEngineHost('/run/podman/podman.sock')), /did you mean "unix:\/\/\/run\/podman\/podman.sock"\?$/);
    assert.match(message(parseEngineHost('docker')), /^expected a DOCKER_HOST-style address/);
  });

  it('HTTP status ranges', () => {
    assert.deepEqual(value(parseStatusRange(200)), { statusMin: 200, statusMax: 200 });
    assert.deepEqual(value(parseStatusRange('200-399')), { statusMin: 200, statusMax: 399 });
    assert.deepEqual(value(parseStatusRange('2xx')), { statusMin: 200, statusMax: 299 });
    assert.equal(message(parseStatusRange('399-200')), '"399-200": the range is empty (399 > 200)');
    assert.equal(message(parseStatusRange('600')), '"600": HTTP statuses are 100-599');
    assert.equal(message(parseStatusRange('ok')), 'expected an HTTP status or range like "200-399", got "ok"');
  });
});

describe('did you mean', () => {
  const keys = ['listen', 'container', 'idleTimeout', 'startTimeout', 'stopTimeout', 'maxConnections'];

  it('edit distance counts transpositions as one edit', () => {
    assert.equal(editDistance('', 'abc'), 3);
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(editDistance('listne', 'listen'), 1);
  });

  it('finds case and separator variants, and near misses', () => {
    assert.equal(closest('idletimeout', keys), 'idleTimeout');
    assert.equal(closest('idle_timeout', keys), 'idleTimeout');
    assert.equal(closest('IDLE-TIMEOUT', keys), 'idleTimeout');
    assert.equal(closest('contianer', keys), 'container');
    assert.equal(closest('listn', keys), 'listen');
    assert.equal(closest('startTimout', keys), 'startTimeout');
  });

  it('suggests nothing when nothing is close', () => {
    assert.equal(closest('image', keys), undefined);
    assert.equal(closest('x', keys), undefined);
    assert.equal(didYouMean('image', keys), '');
    assert.equal(didYouMean('contaner', keys), '; did you mean "container"?');
  });
});

describe('overlaps', () => {
  const tcp = (host: string | undefined, port = 80): Address => ({ kind: 'tcp', host, port });

  it('a bare port overlaps every address on that port, of both families', () => {
    assert.equal(overlaps(tcp(undefined), tcp('0.0.0.0')), true);
    assert.equal(overlaps(tcp('::'), tcp(undefined)), true);
    assert.equal(overlaps(tcp(undefined), tcp('10.0.0.1')), true);
    assert.equal(overlaps(tcp(undefined), tcp('example.com')), true);
    assert.equal(overlaps(tcp(undefined), tcp(undefined, 81)), false);
  });

  it('wildcards cover their own family only', () => {
    assert.equal(overlaps(tcp('0.0.0.0'), tcp('::')), false);
    assert.equal(overlaps(tcp('0.0.0.0'), tcp('127.0.0.1')), true);
    assert.equal(overlaps(tcp('::'), tcp('::1')), true);
    assert.equal(overlaps(tcp('::'), tcp('127.0.0.1')), false);
    assert.equal(overlaps(tcp('0:0::0'), tcp('::')), true);
  });

  it('specific addresses overlap when equal (IPv6 compared canonically)', () => {
    assert.equal(overlaps(tcp('127.0.0.1'), tcp('127.0.0.1')), true);
    assert.equal(overlaps(tcp('127.0.0.1'), tcp('127.0.0.2')), false);
    assert.equal(overlaps(tcp('::1'), tcp('0:0:0:0:0:0:0:1')), true);
    assert.equal(overlaps(tcp('Example.com'), tcp('example.com')), true);
    assert.equal(overlaps(tcp('127.0.0.1'), tcp('localhost')), false);
  });

  it('unix paths, systemd names, and never across kinds', () => {
    assert.equal(overlaps({ kind: 'unix', path: '/run/a.sock' }, { kind: 'unix', path: '/run/a.sock' }), true);
    assert.equal(overlaps({ kind: 'unix', path: '/run/a.sock' }, { kind: 'unix', path: '/run/b.sock' }), false);
    assert.equal(overlaps({ kind: 'systemd', name: 'web' }, { kind: 'systemd', name: 'web' }), true);
    assert.equal(overlaps({ kind: 'systemd', name: 'web' }, { kind: 'systemd', name: 'api' }), false);
    assert.equal(overlaps({ kind: 'systemd', name: undefined }, { kind: 'systemd', name: 'api' }), true);
    assert.equal(overlaps({ kind: 'systemd', name: undefined }, tcp(undefined)), false);
  });
});
