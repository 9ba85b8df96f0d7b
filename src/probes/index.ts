// Readiness on the wire: the real probes, over node:net and node:http (native.ts: the addon's faster TCP connect). They
// answer core/readiness.ts's Probes, for a start's readiness wait and for `portwake wait-port`'s loop
// (wait-port.ts, its targets in wait-port-targets.ts); they live here because core/ imports no sockets.

import type { Probes } from '../core/readiness.ts';
import { probeHttp } from './http.ts';
import { probeTcp } from './tcp.ts';

export const networkProbes: Probes = { tcp: probeTcp, http: probeHttp };
