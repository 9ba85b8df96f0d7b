// The real probes, over node:net and node:http.

import type { Probes } from '../core/readiness.ts';
import { probeHttp } from './http.ts';
import { probeTcp } from './tcp.ts';

export const networkProbes: Probes = { tcp: probeTcp, http: probeHttp };
