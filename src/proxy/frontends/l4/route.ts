// What a frontend may change about one connection's way to the upstream, without touching the
// byte pipes: another port of the same container (the TLS router's `tlsPort`), and a PROXY
// protocol header sent before anything else, as the first of the connection's early bytes.

import type { Socket } from 'node:net';
import type { Lease, RevokeHow } from '../../../core/backend.ts';
import type { Endpoint } from '../../../core/provider.ts';
import type { EarlyData } from '../../handoff.ts';
import { proxyHeader, type ProxyProtocolVersion } from '../../proxy-protocol.ts';

/** The lease, with its TCP upstream's port replaced (a Unix upstream has no port: unchanged). */
export function withPort(lease: Lease, port: number | undefined): Lease {
  if (port === undefined || lease.upstream.kind !== 'tcp' || lease.upstream.port === port) return lease;
  return new PortLease(lease, { ...lease.upstream, port });
}

/** A view of a lease with another upstream; everything else (counters, revocation, release) is the lease's own. */
class PortLease implements Lease {
  constructor(private readonly inner: Lease, readonly upstream: Endpoint) {}
  get revoked(): boolean {
    return this.inner.revoked;
  }
  get onRevoke(): ((how: RevokeHow) => void) | undefined {
    return this.inner.onRevoke;
  }
  set onRevoke(fn: ((how: RevokeHow) => void) | undefined) {
    this.inner.onRevoke = fn;
  }
  get bytesIn(): number {
    return this.inner.bytesIn;
  }
  set bytesIn(n: number) {
    this.inner.bytesIn = n;
  }
  get bytesOut(): number {
    return this.inner.bytesOut;
  }
  set bytesOut(n: number) {
    this.inner.bytesOut = n;
  }
  release(): void {
    this.inner.release();
  }
}

/** Headers this module put in front of early bytes, so that a connection handed back for a retry gets them off again. */
const headers = new WeakSet<Buffer>();

/** The early bytes to send upstream: the PROXY header for this client (when asked for), then what the client sent. */
export function withProxyHeader(socket: Socket, early: EarlyData | undefined, version: ProxyProtocolVersion | undefined): EarlyData | undefined {
  if (version === undefined) return early;
  const header = proxyHeader(version, {
    sourceAddress: socket.remoteAddress,
    sourcePort: socket.remotePort,
    destinationAddress: socket.localAddress,
    destinationPort: socket.localPort,
  });
  headers.add(header);
  return { chunks: [header, ...(early?.chunks ?? [])] };
}

/** The client's own early bytes, without a header withProxyHeader added. */
export function withoutProxyHeader(early: EarlyData): EarlyData {
  const first = early.chunks[0];
  return first !== undefined && headers.has(first) ? { chunks: early.chunks.slice(1) } : early;
}
