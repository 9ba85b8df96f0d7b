// Shared by the control API tests: start a control server on a fresh address with cleanup
// registered, a raw HTTP helper over TCP or a unix socket, and a logger that records.

import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { ControlConfig } from '../../src/config/types.ts';
import type { Logger } from '../../src/core/logger.ts';
import { parseControlAddress, type ControlTarget } from '../../src/control/address.ts';
import { startControlServer, type ControlServer, type ControlServerOptions } from '../../src/control/server.ts';
import { FakeDaemonControl } from './fake-daemon-control.ts';

export interface LogLine { level: string; msg: string; obj: object }

export function recordingLogger(lines: LogLine[] = []): Logger & { lines: LogLine[] } {
  const at = (level: string) => (obj: object, msg: string): void => { lines.push({ level, msg, obj }); };
  const logger = { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: () => logger };
  return logger;
}

export async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portwake-control-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export interface Harness {
  control: FakeDaemonControl;
  server: ControlServer;
  target: ControlTarget;
  logger: ReturnType<typeof recordingLogger>;
}

/**
 * A control server on 127.0.0.1:0 (or the given listen), closed when the test ends. Without a
 * token it is started with control.insecureNoToken unless told otherwise (the route tests are not
 * about the token; the auth tests pass insecureNoToken: false).
 */
export async function startHarness(
  t: TestContext,
  options: { listen?: ControlConfig['listen']; token?: string; insecureNoToken?: boolean; control?: FakeDaemonControl } & Partial<Omit<ControlServerOptions, 'config' | 'control' | 'logger'>> = {},
): Promise<Harness> {
  const { listen, token, insecureNoToken, control: given, ...rest } = options;
  const control = given ?? new FakeDaemonControl();
  const logger = recordingLogger();
  const server = await startControlServer({
    config: { listen: listen ?? { kind: 'tcp', host: '127.0.0.1', port: 0 }, token, insecureNoToken: insecureNoToken ?? token === undefined },
    control, logger, defaultMetrics: false, ...rest,
  });
  t.after(() => server.close());
  return { control, server, target: parseControlAddress(server.address), logger };
}

export interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

export function http(target: ControlTarget, method: string, path: string, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({
      method, path, headers,
      ...(target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port }),
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

export function json<T = Record<string, unknown>>(reply: Reply): T {
  return JSON.parse(reply.body) as T;
}
