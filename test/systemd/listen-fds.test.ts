// Real socket activation with systemd-socket-activate: the process starts on the first connection
// and must serve that connection from the passed fd (TCP and Unix), the LISTEN_* variables are
// gone afterwards, and a datagram or unclaimed socket stops start-up with a clear message.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { freePort, nodeTs, startChild, tempDir } from './helpers.ts';

const ACTIVATE = 'systemd-socket-activate';
const CHILD = nodeTs('test/systemd/fixtures/take-fds-child.ts');

/** Connects, reads until the server closes, returns what it said. */
function fetchLine(where: { port: number; host: string } | { path: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(where);
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (data += d));
    socket.once('end', () => resolve(data));
    socket.once('error', reject);
    socket.setTimeout(15_000, () => socket.destroy(new Error('no answer within 15 s')));
  });
}

const services = (...s: Array<{ name: string; listen: Array<string | null> }>): string => JSON.stringify(s);

describe('socket activation handoff (systemd-socket-activate)', { timeout: 60_000 }, () => {
  it('serves the TCP connection that started it, from the fd named by --fdname', async (t) => {
    const port = await freePort();
    const child = startChild(t, ACTIVATE, ['-l', `127.0.0.1:${port}`, '--fdname=web', ...CHILD, services({ name: 'web', listen: ['web'] }), '1']);
    await child.waitFor(/Listening on 127\.0\.0\.1:\d+ as 3/);
    // Nothing runs yet: this connection is what makes systemd-socket-activate start the child.
    assert.doesNotMatch(child.stdout(), /LISTENING/);
    assert.equal(await fetchLine({ host: '127.0.0.1', port }), 'hello from web via web (tcp)\n');
    assert.equal(await child.exited, 0);
    assert.match(child.stdout(), /LISTENING web:web:3 env=clean/);
  });

  it('serves a Unix stream socket, and takes every passed socket with bare "systemd"', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'api.sock');
    const port = await freePort();
    const child = startChild(t, ACTIVATE, ['-l', path, '-l', `127.0.0.1:${port}`, '--fdname=api:web', ...CHILD, services({ name: 'only', listen: [null] }), '2']);
    await child.waitFor(/as 4/);
    assert.equal(await fetchLine({ path }), 'hello from only via api (unix)\n');
    assert.equal(await fetchLine({ host: '127.0.0.1', port }), 'hello from only via web (tcp)\n');
    assert.equal(await child.exited, 0);
    assert.match(child.stdout(), /LISTENING only:api:3,only:web:4 env=clean/);
  });

  it('refuses a socket no service claims', async (t) => {
    const dir = tempDir(t);
    const port = await freePort();
    const child = startChild(t, ACTIVATE, ['-l', `127.0.0.1:${port}`, '-l', join(dir, 'extra.sock'), '--fdname=web:extra', ...CHILD, services({ name: 'web', listen: ['web'] }), '1']);
    await child.waitFor(/as 4/);
    connect({ host: '127.0.0.1', port }).on('error', () => undefined);
    assert.equal(await child.exited, 3);
    assert.match(child.stdout(), /ERROR SYSTEMD_FDS systemd sockets: systemd passed socket "extra" \(fd 4, Unix stream socket listening on .*extra\.sock\) but no service has listen: systemd:extra/);
  });

  it('refuses a UDP datagram socket, saying it is one', async (t) => {
    const port = await freePort();
    const child = startChild(t, ACTIVATE, ['--datagram', '-l', `127.0.0.1:${port}`, '--fdname=dns', ...CHILD, services({ name: 'dns', listen: ['dns'] }), '1']);
    await child.waitFor(/as 3/);
    const udp = createSocket('udp4');
    t.after(() => udp.close());
    udp.send('wake up', port, '127.0.0.1');
    assert.equal(await child.exited, 3);
    assert.match(child.stdout(), new RegExp(`ERROR SYSTEMD_FDS .*socket "dns" \\(fd 3\\) is a UDP datagram socket on 127\\.0\\.0\\.1:${port}; portwake forwards stream connections only \\(use ListenStream=, not ListenDatagram=\\)`));
  });

  it('refuses a Unix datagram socket, saying it is one', async (t) => {
    const dir = tempDir(t);
    const path = join(dir, 'dgram.sock');
    const child = startChild(t, ACTIVATE, ['--datagram', '-l', path, '--fdname=log', ...CHILD, services({ name: 'log', listen: [null] }), '1']);
    await child.waitFor(/as 3/);
    // Node cannot send a Unix datagram; python3 can.
    const sent = spawnSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b"x", sys.argv[1])', path]);
    assert.equal(sent.status, 0, String(sent.stderr));
    assert.equal(await child.exited, 3);
    assert.match(child.stdout(), /socket "log" \(fd 3\) is a Unix datagram socket on .*dgram\.sock; portwake forwards stream connections only/);
  });
});
