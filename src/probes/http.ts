// HTTP readiness probe: one GET; ready when the status is in the configured range.

import http from 'node:http';
import { describe } from '../core/errors.ts';
import type { Endpoint } from '../core/provider.ts';
import type { ProbeOutcome, ReadySpec } from '../core/readiness.ts';
import { formatEndpoint } from '../core/upstream.ts';

export const HTTP_PROBE_TIMEOUT_MS = 2_000;

export function probeHttp(target: Endpoint, spec: Extract<ReadySpec, { kind: 'http' }>, signal: AbortSignal): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const where = target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port };
    const host = spec.host ?? (target.kind === 'unix' ? 'localhost' : formatEndpoint(target));
    const req = http.request({ ...where, path: spec.path, method: 'GET', agent: false, signal, timeout: HTTP_PROBE_TIMEOUT_MS, headers: { host, connection: 'close', 'user-agent': 'portwake-probe' } });
    const finish = (o: ProbeOutcome): void => {
      req.destroy();
      resolve(o);
    };
    req.once('timeout', () => finish({ ok: false, detail: `no HTTP answer within ${HTTP_PROBE_TIMEOUT_MS}ms` }));
    req.once('error', (err) => finish({ ok: false, detail: describe(err) }));
    req.once('response', (res) => {
      res.resume();
      const code = res.statusCode ?? 0;
      finish(code >= spec.statusMin && code <= spec.statusMax ? { ok: true } : { ok: false, detail: `GET ${spec.path} answered ${code}` });
    });
    req.end();
  });
}
