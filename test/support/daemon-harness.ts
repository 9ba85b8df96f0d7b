// Runs a real portwake daemon in-process against the test engine: config from YAML text, the
// Docker provider wrapped to count start/stop requests, events recorded; plus small socket helpers.

import http from 'node:http';
import net from 'node:net';
import type { TestContext } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';
import type { Logger } from '../../src/core/logger.ts';
import { canPause, type Provider } from '../../src/core/provider.ts';
import type { DaemonEvent } from '../../src/core/status.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { createLogger } from '../../src/log/log.ts';
import { createDockerProvider } from '../../src/providers/docker/provider.ts';
import { createContainer, type Engine, type TestContainer } from './engine.ts';

export interface CountingProvider extends Provider {
  /** Start requests sent to the engine, and those that really started the container. */
  startRequests: number;
  starts: number;
  stops: number;
  /** Pause and unpause requests (the provider can pause when the real one can). */
  pauses: number;
  unpauses: number;
}

/** The real Docker provider (for `host`, default the engine's), counting the start and stop requests portwake sends. */
export function countingProvider(engine: Engine, host = engine.dockerHost): CountingProvider {
  const real = createDockerProvider({ host });
  const p: CountingProvider = {
    startRequests: 0,
    starts: 0,
    stops: 0,
    pauses: 0,
    unpauses: 0,
    endpoint: real.endpoint,
    inspect: (c, s) => real.inspect(c, s),
    start: async (c, s) => {
      p.startRequests++;
      const started = await real.start(c, s);
      if (started) p.starts++;
      return started;
    },
    stop: (c, g, s) => { p.stops++; return real.stop(c, g, s); },
    events: (s) => real.events(s),
    ping: (s) => real.ping(s),
    disableRestart: (c, s) => real.disableRestart?.(c, s) ?? Promise.resolve(),
    ...(canPause(real) ? {
      pause: (c: string, s?: AbortSignal) => { p.pauses++; return real.pause(c, s); },
      unpause: (c: string, s?: AbortSignal) => { p.unpauses++; return real.unpause(c, s); },
    } : {}),
  };
  return p;
}

export interface RunningDaemon {
  daemon: Daemon;
  provider: CountingProvider;
  events: DaemonEvent[];
}

/** Starts a daemon for `yaml`; registers its shutdown with the test before returning. */
export async function startDaemon(
  t: TestContext,
  engine: Engine,
  yaml: string,
  o: { stopOnExit?: boolean; graceMs?: number; provider?: CountingProvider; useConfigEngine?: boolean } = {},
): Promise<RunningDaemon> {
  const config = parseConfig(yaml, 'test.yaml');
  const provider = o.provider ?? countingProvider(engine, o.useConfigEngine === true ? config.engineHost : engine.dockerHost);
  const level = process.env['PORTWAKE_TEST_LOG'] === '1' ? 'debug' : 'error';
  return runDaemon(t, { config, configPath: undefined, logger: createLogger({ level, pretty: false }), provider, stopOnExit: o.stopOnExit ?? false, graceMs: o.graceMs ?? 500 });
}

/** Daemon.start with the test's defaults; shut down when the test ends; every event recorded. */
export async function runDaemon(
  t: TestContext,
  o: { config: PortwakeConfig; configPath: string | undefined; logger: Logger; provider: CountingProvider; stopOnExit: boolean; graceMs: number },
): Promise<RunningDaemon> {
  const daemon = await Daemon.start({ ...o, env: {}, exitIdleMs: undefined });
  t.after(() => daemon.shutdown('test end'));
  const events: DaemonEvent[] = [];
  daemon.subscribe((e) => events.push(e));
  return { daemon, provider: o.provider, events };
}

/** Free TCP ports on 127.0.0.1 (freePorts: several, all different). */
export { freePort, freePorts } from './free-port.ts';

export interface HttpResult { status: number; body: Buffer }

/** One GET on a fresh connection; rejects on any socket error (a reset fails the test). */
export function httpGet(target: { host?: string; port?: number; socketPath?: string }, path = '/', timeoutMs = 30_000): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.get({ ...target, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.on('error', reject);
  });
}

/** Opens a raw connection and resolves once connected. */
export function connect(opts: net.NetConnectOpts): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(opts);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

/** Resolves with how the socket ended ('end', 'close' or an error code) and when. */
export function whenClosed(s: net.Socket): Promise<{ how: string; at: number }> {
  return new Promise((resolve) => {
    let how = 'close';
    s.on('error', (e: NodeJS.ErrnoException) => { how = e.code ?? e.message; });
    s.on('end', () => { if (how === 'close') how = 'end'; });
    s.resume();
    s.once('close', () => resolve({ how, at: Date.now() }));
  });
}

/** Polls `check` every 100 ms until it returns true or the deadline passes (then throws `what`). */
export async function eventually(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for: ${what}`);
}

/** busybox httpd as PID 1 serving /www: index.html names the container; `big` adds a 64 MiB /big. */
export function httpdCmd(o: { delayS?: number; big?: boolean; before?: string } = {}): string[] {
  const big = o.big === true ? 'dd if=/dev/zero of=/www/big bs=1048576 count=64 2>/dev/null; ' : '';
  const delay = o.delayS !== undefined && o.delayS > 0 ? `sleep ${o.delayS}; ` : '';
  return ['/bin/sh', '-c', `${o.before ?? ''}${big}${delay}echo hello-from-$HOSTNAME > /www/index.html; exec httpd -f -p 80 -h /www`];
}

/** A stopped busybox httpd container (SIGKILL to stop: httpd as PID 1 ignores SIGTERM), removed after the test. */
export async function httpdContainer(t: TestContext, engine: Engine, image: string, hint: string, big = false): Promise<TestContainer> {
  const c = await createContainer(engine, { image, cmd: httpdCmd({ big }), expose: [80], nameHint: hint, stopSignal: 'SIGKILL' });
  t.after(() => c.remove());
  return c;
}

/** Whether Docker reports the container running. */
export async function isRunning(engine: Engine, name: string): Promise<boolean> {
  const info = (await engine.docker.getContainer(name).inspect()) as unknown as { State: { Running: boolean } };
  return info.State.Running;
}
