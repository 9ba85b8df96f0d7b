// PROXY protocol header encoders, byte for byte against haproxy's proxy-protocol.txt.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { proxyHeaderV1, proxyHeaderV2 } from '../../src/proxy/proxy-protocol.ts';

const v4 = { sourceAddress: '192.168.0.1', sourcePort: 56324, destinationAddress: '192.168.0.11', destinationPort: 443 };

describe('PROXY protocol v1', () => {
  it('TCP4, with IPv4-mapped IPv6 sockets written as IPv4', () => {
    assert.equal(proxyHeaderV1(v4).toString('latin1'), 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n');
    assert.equal(proxyHeaderV1({ ...v4, sourceAddress: '::ffff:192.168.0.1', destinationAddress: '::FFFF:192.168.0.11' }).toString('latin1'), 'PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n');
  });

  it('TCP6 (both ends one family: an IPv4 end of a mixed pair is mapped)', () => {
    assert.equal(proxyHeaderV1({ sourceAddress: '::1', sourcePort: 1, destinationAddress: '2001:db8::2%eth0', destinationPort: 65535 }).toString('latin1'), 'PROXY TCP6 ::1 2001:db8::2 1 65535\r\n');
    assert.equal(proxyHeaderV1({ sourceAddress: '10.0.0.1', sourcePort: 5, destinationAddress: '::1', destinationPort: 6 }).toString('latin1'), 'PROXY TCP6 ::ffff:a00:1 ::1 5 6\r\n');
  });

  it('IPv6 text per RFC 5952: the longest zero run compressed, single zero groups kept', () => {
    const text = (a: string): string => proxyHeaderV1({ sourceAddress: a, sourcePort: 1, destinationAddress: '::', destinationPort: 2 }).toString('latin1');
    assert.equal(text('2001:db8:0:1:0:0:0:1'), 'PROXY TCP6 2001:db8:0:1::1 :: 1 2\r\n');
    assert.equal(text('1:0:0:2:0:0:0:3'), 'PROXY TCP6 1:0:0:2::3 :: 1 2\r\n');
    assert.equal(text('1:2:3:4:5:6:7:8'), 'PROXY TCP6 1:2:3:4:5:6:7:8 :: 1 2\r\n');
    assert.equal(text('1:0:2:3:4:5:6:7'), 'PROXY TCP6 1:0:2:3:4:5:6:7 :: 1 2\r\n');
  });

  it('UNKNOWN without IP addresses (a Unix socket)', () => {
    assert.equal(proxyHeaderV1({ sourceAddress: undefined, sourcePort: undefined, destinationAddress: undefined, destinationPort: undefined }).toString('latin1'), 'PROXY UNKNOWN\r\n');
  });
});

describe('PROXY protocol v2', () => {
  it('AF_INET STREAM: signature, 0x21, 0x11, length 12, addresses, ports', () => {
    assert.equal(proxyHeaderV2(v4).toString('hex'), [
      '0d0a0d0a000d0a515549540a', // signature
      '21', '11', '000c',         // v2 PROXY, AF_INET STREAM, 12 bytes
      'c0a80001', 'c0a8000b',     // 192.168.0.1, 192.168.0.11
      'dc04', '01bb',             // 56324, 443
    ].join(''));
  });

  it('AF_INET6 STREAM: length 36', () => {
    assert.equal(proxyHeaderV2({ sourceAddress: '::1', sourcePort: 80, destinationAddress: 'fe80::1', destinationPort: 8080 }).toString('hex'), [
      '0d0a0d0a000d0a515549540a', '21', '21', '0024',
      '00000000000000000000000000000001', 'fe800000000000000000000000000001',
      '0050', '1f90',
    ].join(''));
  });

  it('LOCAL, UNSPEC without IP addresses', () => {
    assert.equal(proxyHeaderV2({ sourceAddress: undefined, sourcePort: undefined, destinationAddress: undefined, destinationPort: undefined }).toString('hex'), '0d0a0d0a000d0a515549540a' + '20' + '00' + '0000');
  });
});
