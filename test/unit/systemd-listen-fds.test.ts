// LISTEN_* parsing and claiming against canned fd types: names, counts, LISTEN_PID, missing and
// unclaimed sockets, datagram and non-listening sockets, and clearing the environment.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServiceConfig } from '../../src/config/types.ts';
import { DEFAULTS } from '../../src/config/types.ts';
import { PortwakeError } from '../../src/core/errors.ts';
import { adoptSystemdListeners, fdNameFor } from '../../src/systemd/adopt.ts';
import {
  claimListenFds,
  clearListenEnv,
  parseListenFds,
  systemdClaims,
  takeListenFds,
  type FdClaim,
} from '../../src/systemd/listen-fds.ts';
import type { FdInfo } from '../../src/systemd/socket-type.ts';

const PID = 4242;
const tcp = (address: string): FdInfo => ({ kind: 'socket', transport: 'tcp', type: 'stream', listening: true, address });
const udp: FdInfo = { kind: 'socket', transport: 'udp', type: 'dgram', listening: false, address: '127.0.0.1:5353' };
const unixDgram: FdInfo = { kind: 'socket', transport: 'unix', type: 'dgram', listening: false, address: '/run/x.sock' };

function lookupFrom(types: Record<number, FdInfo>) {
  return (fd: number): FdInfo => types[fd] ?? { kind: 'not-socket', target: 'not open' };
}

function env(fds: number, names?: string, pid: number | string = PID): Record<string, string | undefined> {
  return { LISTEN_PID: String(pid), LISTEN_FDS: String(fds), ...(names === undefined ? {} : { LISTEN_FDNAMES: names }), PATH: '/usr/bin' };
}

function service(name: string, listen: ServiceConfig['listen']): ServiceConfig {
  return {
    name, listen, container: name, port: undefined, upstream: undefined, ready: { kind: 'tcp' },
    startTimeoutMs: DEFAULTS.startTimeoutMs, idleTimeoutMs: undefined, stopTimeoutMs: DEFAULTS.stopTimeoutMs,
    maxConnections: DEFAULTS.maxConnections, maxPending: DEFAULTS.maxPending,
  };
}

const claim = (service: string, name: string | undefined): FdClaim => ({ service, name, text: name === undefined ? 'systemd' : `systemd:${name}` });

function fdsError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PortwakeError);
    assert.equal(err.code, 'SYSTEMD_FDS');
    return err.message;
  }
  assert.fail('expected a SYSTEMD_FDS error');
}

describe('parseListenFds', () => {
  it('numbers the fds from 3 and pairs them with LISTEN_FDNAMES', () => {
    const r = parseListenFds(env(2, 'web:api'), PID, lookupFrom({ 3: tcp('0.0.0.0:80'), 4: tcp('[::]:81') }));
    assert.equal(r.ignored, undefined);
    assert.deepEqual(r.fds.map((f) => [f.fd, f.name]), [[3, 'web'], [4, 'api']]);
    assert.deepEqual(r.fds[1]?.info, tcp('[::]:81'));
  });

  it('names every fd "unknown" without LISTEN_FDNAMES, as sd_listen_fds_with_names does', () => {
    const r = parseListenFds(env(1), PID, lookupFrom({ 3: tcp('0.0.0.0:80') }));
    assert.deepEqual(r.fds.map((f) => f.name), ['unknown']);
  });

  it('takes nothing when the variables are absent', () => {
    assert.deepEqual(parseListenFds({}, PID, lookupFrom({})), { fds: [], ignored: undefined });
  });

  it('ignores, and says why, sockets passed to another process', () => {
    const r = parseListenFds(env(1, 'web', 1), PID, lookupFrom({ 3: tcp('0.0.0.0:80') }));
    assert.deepEqual(r.fds, []);
    assert.match(r.ignored ?? '', /LISTEN_PID=1 is another process \(this is 4242\)/);
    const noPid = parseListenFds({ LISTEN_FDS: '1' }, PID, lookupFrom({}));
    assert.match(noPid.ignored ?? '', /LISTEN_PID is not/);
  });

  it('rejects malformed variables', () => {
    assert.match(fdsError(() => parseListenFds(env(0, undefined, 'x'), PID, lookupFrom({}))), /LISTEN_PID="x"/);
    assert.match(fdsError(() => parseListenFds({ ...env(0), LISTEN_FDS: 'two' }, PID, lookupFrom({}))), /LISTEN_FDS="two"/);
    assert.match(fdsError(() => parseListenFds(env(2, 'web'), PID, lookupFrom({}))), /LISTEN_FDNAMES has 1 name\(s\) \("web"\) for LISTEN_FDS=2/);
  });

  it('accepts LISTEN_FDS=0 with an empty name list', () => {
    assert.deepEqual(parseListenFds(env(0, ''), PID, lookupFrom({})).fds, []);
  });
});

describe('claimListenFds', () => {
  const passed = parseListenFds(env(3, 'web:web:api'), PID, lookupFrom({ 3: tcp('0.0.0.0:80'), 4: tcp('[::]:80'), 5: tcp('127.0.0.1:81') }));

  it('gives systemd:NAME every socket of that name', () => {
    const claimed = claimListenFds([claim('web', 'web'), claim('api', 'api')], 2, passed);
    assert.deepEqual(claimed.map((c) => [c.service, c.listen, c.fd]), [['web', 'systemd:web', 3], ['web', 'systemd:web', 4], ['api', 'systemd:api', 5]]);
  });

  it('gives bare systemd every socket when there is one service', () => {
    const claimed = claimListenFds([claim('only', undefined)], 1, passed);
    assert.deepEqual(claimed.map((c) => c.fd), [3, 4, 5]);
  });

  it('refuses bare systemd with several services', () => {
    const msg = fdsError(() => claimListenFds([claim('web', undefined), claim('api', 'api')], 2, passed));
    assert.match(msg, /service "web": "systemd" takes every passed socket, which is only allowed with one service/);
  });

  it('names a claimed socket that was not passed, and what was', () => {
    const msg = fdsError(() => claimListenFds([claim('web', 'web'), claim('api', 'api'), claim('db', 'db')], 3, passed));
    assert.match(msg, /service "db": listen: systemd:db, but systemd passed no socket named "db" \(passed: "web" \(fd 3\), "web" \(fd 4\), "api" \(fd 5\)\); set FileDescriptorName=db/);
  });

  it('says why nothing was passed when LISTEN_PID was for someone else', () => {
    const other = parseListenFds(env(1, 'web', 1), PID, lookupFrom({}));
    assert.match(fdsError(() => claimListenFds([claim('web', 'web')], 1, other)), /passed: none; LISTEN_PID=1 is another process/);
    assert.match(fdsError(() => claimListenFds([claim('web', undefined)], 1, parseListenFds({}, PID, lookupFrom({})))), /LISTEN_FDS is not set: start portwake from a \.socket unit/);
  });

  it('refuses sockets no service claims, with their address', () => {
    const msg = fdsError(() => claimListenFds([claim('web', 'web')], 1, passed));
    assert.match(msg, /systemd passed socket "api" \(fd 5, TCP stream socket listening on 127\.0\.0\.1:81\) but no service has listen: systemd:api/);
  });

  it('refuses passed sockets when no service listens on systemd at all', () => {
    assert.match(fdsError(() => claimListenFds([], 1, passed)), /3 problems: .*"web" \(fd 3/);
  });

  it('refuses a datagram socket and says so', () => {
    const dgram = parseListenFds(env(1, 'dns'), PID, lookupFrom({ 3: udp }));
    const msg = fdsError(() => claimListenFds([claim('dns', 'dns')], 1, dgram));
    assert.match(msg, /socket "dns" \(fd 3\) is a UDP datagram socket on 127\.0\.0\.1:5353; portwake forwards stream connections only \(use ListenStream=, not ListenDatagram=\)/);
    const unix = parseListenFds(env(1, 'x'), PID, lookupFrom({ 3: unixDgram }));
    assert.match(fdsError(() => claimListenFds([claim('x', undefined)], 1, unix)), /Unix datagram socket on \/run\/x\.sock/);
    assert.match(fdsError(() => claimListenFds([], 1, unix)), /no service claims, and it is a Unix datagram socket/);
  });

  it('refuses connected sockets (Accept=yes) and non-sockets', () => {
    const conn: FdInfo = { kind: 'socket', transport: 'tcp', type: 'stream', listening: false, address: '127.0.0.1:80' };
    assert.match(fdsError(() => claimListenFds([claim('w', 'w')], 1, parseListenFds(env(1, 'w'), PID, lookupFrom({ 3: conn })))), /not listening \(a connection passed with Accept=yes\?\); use Accept=no/);
    const file: FdInfo = { kind: 'not-socket', target: '/etc/passwd' };
    assert.match(fdsError(() => claimListenFds([claim('w', 'w')], 1, parseListenFds(env(1, 'w'), PID, lookupFrom({ 3: file })))), /is not a socket \(\/etc\/passwd\)/);
  });

  it('takes a socket whose type cannot be told (no /proc)', () => {
    const unknown: FdInfo = { kind: 'unknown', reason: 'cannot read /proc/net/unix' };
    const claimed = claimListenFds([claim('w', 'w')], 1, parseListenFds(env(1, 'w'), PID, lookupFrom({ 3: unknown })));
    assert.deepEqual(claimed.map((c) => c.fd), [3]);
  });

  it('refuses one name claimed by two services', () => {
    const one = parseListenFds(env(1, 'web'), PID, lookupFrom({ 3: tcp('0.0.0.0:80') }));
    assert.match(fdsError(() => claimListenFds([claim('a', 'web'), claim('b', 'web')], 2, one)), /claimed by both service "a" and service "b"/);
  });
});

describe('takeListenFds and the environment', () => {
  it('claims from the services and removes the variables, also on error', () => {
    const e = env(1, 'web');
    const claimed = takeListenFds([service('web', [{ kind: 'systemd', name: 'web', text: 'systemd:web' }])], e, PID, lookupFrom({ 3: tcp('0.0.0.0:80') }));
    assert.deepEqual(claimed.map((c) => [c.service, c.fd]), [['web', 3]]);
    assert.deepEqual(e, { PATH: '/usr/bin' });
    const bad = env(1, 'api');
    assert.throws(() => takeListenFds([service('web', [{ kind: 'systemd', name: 'web', text: 'systemd:web' }])], bad, PID, lookupFrom({ 3: tcp('0.0.0.0:80') })));
    assert.deepEqual(bad, { PATH: '/usr/bin' });
  });

  it('clearListenEnv leaves other variables alone', () => {
    const e = { ...env(2, 'a:b'), NOTIFY_SOCKET: '/run/systemd/notify' };
    clearListenEnv(e);
    assert.deepEqual(e, { PATH: '/usr/bin', NOTIFY_SOCKET: '/run/systemd/notify' });
  });

  it('systemdClaims lists only systemd listeners', () => {
    const services = [
      service('web', [{ kind: 'tcp', host: undefined, port: 80, text: '80' }, { kind: 'systemd', name: 'web', text: 'systemd:web' }]),
      service('api', [{ kind: 'systemd', name: undefined, text: 'systemd' }]),
    ];
    assert.deepEqual(systemdClaims(services), [claim('web', 'web'), claim('api', undefined)]);
  });
});

describe('adoptSystemdListeners', () => {
  it('replaces the addresses of each service by its socket unit\'s fds, named after it', () => {
    const config = {
      source: 'x.yaml', engineHost: undefined, control: undefined,
      services: [
        service('web', [{ kind: 'tcp', host: undefined, port: 80, text: '80' }, { kind: 'unix', path: '/run/web.sock', mode: undefined, text: 'unix:/run/web.sock' }]),
        service('api', [{ kind: 'systemd', name: 'api-fds', text: 'systemd:api-fds' }]),
      ],
    };
    const adopted = adoptSystemdListeners(config);
    assert.deepEqual(adopted.services.map((s) => s.listen), [
      [{ kind: 'systemd', name: 'web', text: 'systemd:web' }],
      [{ kind: 'systemd', name: 'api-fds', text: 'systemd:api-fds' }],
    ]);
    assert.equal(adopted.services[1], config.services[1]);
  });

  it('refuses a service name that cannot be a FileDescriptorName', () => {
    assert.throws(() => fdNameFor({ name: 'a:b' }), /cannot be a FileDescriptorName=/);
    assert.equal(fdNameFor({ name: 'web-1' }), 'web-1');
  });
});
