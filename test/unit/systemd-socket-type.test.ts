// The /proc socket-type lookup on canned tables (both byte orders), and once on this process's own sockets.

import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { createFdTypeLookup, decodeInetAddress, describeFdInfo, type ProcReader } from '../../src/systemd/socket-type.ts';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F90 0100007F:9F8A 01 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1003 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:0051 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1004 1 0000000000000000 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  100: 0100007F:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 1005 2 0000000000000000 0
`;
const UNIX = `Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 2001 /run/web.sock
0000000000000000: 00000002 00000000 00000000 0002 01 2002 /run/dgram.sock
0000000000000000: 00000003 00000000 00000000 0001 03 2003
0000000000000000: 00000002 00000000 00010000 0005 01 2004 @abstract name
`;

function reader(fds: Record<number, string>, tables: Record<string, string> = { tcp: TCP, tcp6: TCP6, udp: UDP, udp6: '  sl\n', unix: UNIX }): ProcReader {
  return {
    readlink(path) {
      const fd = Number(path.slice('/proc/self/fd/'.length));
      const target = fds[fd];
      if (target === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return target;
    },
    readFile(path) {
      const t = tables[path.slice('/proc/net/'.length)];
      if (t === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return t;
    },
  };
}

describe('socket type from /proc', () => {
  const lookup = createFdTypeLookup(
    reader({ 3: 'socket:[1001]', 4: 'socket:[1003]', 5: 'socket:[1004]', 6: 'socket:[1005]', 7: 'socket:[2001]', 8: 'socket:[2002]', 9: 'socket:[2004]', 10: 'socket:[9999]', 11: '/dev/null', 12: 'socket:[1002]' }),
    true,
  );

  it('finds TCP listeners over IPv4 and IPv6', () => {
    assert.deepEqual(lookup(3), { kind: 'socket', transport: 'tcp', type: 'stream', listening: true, address: '127.0.0.1:8080' });
    assert.deepEqual(lookup(4), { kind: 'socket', transport: 'tcp', type: 'stream', listening: true, address: '[::]:80' });
    assert.deepEqual(lookup(5), { kind: 'socket', transport: 'tcp', type: 'stream', listening: true, address: '[::1]:81' });
    assert.equal((lookup(12) as { listening: boolean }).listening, false);
  });

  it('finds UDP and Unix sockets with their type', () => {
    assert.deepEqual(lookup(6), { kind: 'socket', transport: 'udp', type: 'dgram', listening: false, address: '127.0.0.1:5353' });
    assert.deepEqual(lookup(7), { kind: 'socket', transport: 'unix', type: 'stream', listening: true, address: '/run/web.sock' });
    assert.deepEqual(lookup(8), { kind: 'socket', transport: 'unix', type: 'dgram', listening: false, address: '/run/dgram.sock' });
    assert.deepEqual(lookup(9), { kind: 'socket', transport: 'unix', type: 'seqpacket', listening: true, address: '@abstract name' });
  });

  it('tells other sockets, non-sockets and closed fds apart', () => {
    assert.deepEqual(lookup(10), { kind: 'other-socket', inode: 9999 });
    assert.deepEqual(lookup(11), { kind: 'not-socket', target: '/dev/null' });
    assert.deepEqual(lookup(13), { kind: 'not-socket', target: 'not open' });
  });

  it('reports unknown when the tables cannot be read', () => {
    const blind = createFdTypeLookup(reader({ 3: 'socket:[1001]' }, {}), true);
    assert.equal(blind(3).kind, 'unknown');
  });

  it('decodes addresses printed in either byte order', () => {
    assert.equal(decodeInetAddress('7F000001:0050', false, false), '127.0.0.1:80');
    assert.equal(decodeInetAddress('0100007F:0050', false, true), '127.0.0.1:80');
    assert.equal(decodeInetAddress('B80D0120000000000000000001000000:01BB', true, true), '[2001:db8::1]:443');
  });

  it('describes sockets for messages', () => {
    assert.equal(describeFdInfo(lookup(3)), 'TCP stream socket listening on 127.0.0.1:8080');
    assert.equal(describeFdInfo(lookup(8)), 'Unix datagram socket on /run/dgram.sock');
  });
});

describe('socket type of a real fd', () => {
  it('finds this process\'s own listening TCP socket', async (t) => {
    const server: Server = createServer();
    t.after(() => server.close());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    const fd = (server as unknown as { _handle: { fd: number } })._handle.fd;
    const info = createFdTypeLookup()(fd);
    assert.deepEqual(info, { kind: 'socket', transport: 'tcp', type: 'stream', listening: true, address: `127.0.0.1:${port}` });
  });
});
