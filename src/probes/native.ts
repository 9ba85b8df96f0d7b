// The daemon's probes where the native addon is available: a TCP readiness probe of a container's
// own address is one connect() inside the addon, answered within the call (a local peer's handshake
// or refusal completes there), instead of a net.Socket and an event-loop turn (the probe 0.5 →
// 0.25 ms on a cold start). Anything the kernel cannot answer at once — a peer that is not local, a
// host name — goes the node:net way.

import { isIP } from 'node:net';
import type { Endpoint } from '../core/provider.ts';
import type { ProbeOutcome, Probes } from '../core/readiness.ts';
import { formatEndpoint } from '../core/upstream.ts';
import { probeNative } from '../proxy/native.ts';
import { probeHttp } from './http.ts';
import { quickTcpProbe } from './tcp.ts';

function nativeConnect(target: Endpoint): ProbeOutcome | undefined {
  if (target.kind === 'tcp' && isIP(target.host) === 0) return undefined;
  const result = probeNative(target.kind === 'unix' ? { path: target.path } : { host: target.host, port: target.port });
  if (result === 'pending') return undefined;
  if (result === 'connected') return { ok: true };
  return { ok: false, detail: `${result.message} ${formatEndpoint(target)}` };
}

/** For a daemon whose native data path is on (the caller checked that the addon loads). */
export const nativeNetworkProbes: Probes = { tcp: quickTcpProbe(nativeConnect), http: probeHttp };
