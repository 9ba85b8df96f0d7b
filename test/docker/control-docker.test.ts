// The control API of a real daemon against the real engine, on a unix socket and on loopback TCP
// with a token: /status before and after a cold start, POST start/stop moving the real container,
// /events carrying a real activation, /metrics counting it, and the status/start/stop CLI.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it, type TestContext } from 'node:test';
import type { DaemonEvent, ServiceStatus } from '../../src/core/status.ts';
import type { ControlTarget } from '../../src/control/address.ts';
import { runCli, spawnCli } from '../support/cli-child.ts';
import { http, json, type Reply } from '../support/control-harness.ts';
import { eventually, freePort, freePorts, httpdContainer, httpGet, isRunning } from '../support/daemon-harness.ts';
import { ensureImage, getEngine, type Engine, type TestContainer } from '../support/engine.ts';
import { scratchDir, startFileDaemon, type FileDaemon } from '../support/file-daemon.ts';
import { slowDownload } from '../support/slow-download.ts';

let engine: Engine;
let busybox: string;

const TOKEN = 'pw-test-token-0123456789';



const running = (name: string): Promise<boolean> => isRunning(engine, name);

const server = (t: TestContext, hint: string, big = false): Promise<TestContainer> => httpdContainer(t, engine, busybox, hint, big);

type Kind = 'unix' | 'tcp';

interface ApiDaemon extends FileDaemon {
  target: ControlTarget;
  /** --control value for the CLI. */
  address: string;
  headers: Record<string, string>;
  api(method: 'GET' | 'POST', path: string): Promise<Reply>;
  status(): Promise<ServiceStatus[]>;
  service(name: string): Promise<ServiceStatus>;
}

/** A daemon with one service per container, and its control API on a unix socket or on loopback TCP with a token. */
async function apiDaemon(t: TestContext, kind: Kind, services: Record<string, { container: string; port: number; extra?: string }>): Promise<ApiDaemon> {
  const dir = await scratchDir(t, 'pw-control-');
  const controlPort = await freePort();
  const control = kind === 'unix'
    ? `control:\n  listen: unix:${join(dir, 'control.sock')}\n`
    : `control:\n  listen: 127.0.0.1:${controlPort}\n  token: ${TOKEN}\n`;
  const yaml = control + 'services:\n' + Object.entries(services)
    .map(([name, s]) => `  ${name}:\n    listen: 127.0.0.1:${s.port}\n    container: ${s.container}\n    stopTimeout: 20s\n${s.extra ?? ''}`).join('');
  const d = await startFileDaemon(t, engine, dir, yaml);
  const target: ControlTarget = kind === 'unix' ? { kind: 'unix', path: join(dir, 'control.sock') } : { kind: 'tcp', host: '127.0.0.1', port: controlPort };
  const headers: Record<string, string> = kind === 'tcp' ? { authorization: `Bearer ${TOKEN}` } : {};
  const api = (method: 'GET' | 'POST', path: string): Promise<Reply> => http(target, method, path, headers);
  const status = async (): Promise<ServiceStatus[]> => {
    const r = await api('GET', '/status');
    assert.equal(r.status, 200, r.body);
    return json<{ services: ServiceStatus[] }>(r).services;
  };
  return {
    ...d, target, headers, api, status,
    address: kind === 'unix' ? `unix:${target.kind === 'unix' ? target.path : ''}` : `127.0.0.1:${controlPort}`,
    async service(name) {
      const s = (await status()).find((x) => x.name === name);
      assert.ok(s !== undefined, `service ${name} in /status`);
      return s;
    },
  };
}

interface EventTap { events: DaemonEvent[]; close(): void; waitFor(what: string, pred: (e: DaemonEvent) => boolean, timeoutMs?: number): Promise<DaemonEvent> }

/** Opens GET /events and resolves once the stream is connected (its ": connected" comment arrived). */
function tapEvents(t: TestContext, target: ControlTarget, headers: Record<string, string>): Promise<EventTap> {
  return new Promise((resolve, reject) => {
    const events: DaemonEvent[] = [];
    const waiters = new Set<() => void>();
    const req = request({
      method: 'GET', path: '/events', headers,
      ...(target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port }),
    }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`GET /events: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding('utf8');
      let buffer = '';
      let connected = false;
      res.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!connected && block.includes(': connected')) {
            connected = true;
            resolve(tap);
          }
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (data !== '') events.push(JSON.parse(data) as DaemonEvent);
        }
        for (const w of [...waiters]) w();
      });
      res.on('error', () => undefined);
    });
    req.on('error', reject);
    req.end();
    t.after(() => { req.destroy(); });
    const tap: EventTap = {
      events,
      close: () => req.destroy(),
      waitFor(what, pred, timeoutMs = 20_000) {
        return new Promise((ok, fail) => {
          const check = (): void => {
            const e = events.find(pred);
            if (e === undefined) return;
            clearTimeout(timer);
            waiters.delete(check);
            ok(e);
          };
          const timer = setTimeout(() => { waiters.delete(check); fail(new Error(`no ${what} event within ${timeoutMs}ms; got ${JSON.stringify(events)}`)); }, timeoutMs);
          waiters.add(check);
          check();
        });
      },
    };
  });
}

function metric(text: string, name: string, service: string): number | undefined {
  const m = new RegExp(`^${name}\\{service="${service}"\\} (\\S+)$`, 'm').exec(text);
  return m === null ? undefined : Number(m[1]);
}

describe('the control API of a real daemon against a real Docker engine', { timeout: 240_000 }, () => {
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  for (const kind of ['unix', 'tcp'] as const) {
    it(`${kind}: /status is stopped, then ready with lastStart timings; /events carries the activation; /metrics counts one cold start`, { timeout: 60_000 }, async (t) => {
      const c = await server(t, `ctl-status-${kind}`);
      const port = await freePort();
      const d = await apiDaemon(t, kind, { web: { container: c.name, port } });
      if (kind === 'tcp') {
        const refused = await http(d.target, 'GET', '/status');
        assert.equal(refused.status, 401, 'the token is required on TCP');
      }
      const before = await d.service('web');
      assert.equal(before.state, 'stopped');
      assert.equal(before.container, c.name);
      assert.deepEqual(before.listeners, [`127.0.0.1:${port}`]);
      assert.equal(before.lastStart, null);

      const tap = await tapEvents(t, d.target, d.headers);
      const res = await httpGet({ host: '127.0.0.1', port });
      assert.equal(res.status, 200);
      await tap.waitFor('activated', (e) => e.type === 'activated');
      await tap.waitFor('connection close', (e) => e.type === 'connection' && e.change === 'close');
      const states = tap.events.filter((e) => e.type === 'state').map((e) => e.type === 'state' ? `${e.from}->${e.to}` : '');
      assert.deepEqual(states, ['stopped->starting', 'starting->ready']);
      const activated = tap.events.find((e) => e.type === 'activated');
      assert.ok(activated?.type === 'activated');
      assert.equal(activated.service, 'web');
      assert.equal(activated.timings.startedByUs, true);
      assert.ok(activated.timings.containerStartMs >= 0 && activated.timings.readinessMs >= 0);
      assert.ok(tap.events.some((e) => e.type === 'connection' && e.change === 'open'));

      const after = await d.service('web');
      assert.equal(after.state, 'ready');
      assert.ok(after.lastStart !== null && after.lastStart !== undefined);
      assert.equal(after.lastStart.startedByUs, true);
      assert.equal(after.lastStart.containerStartMs, activated.timings.containerStartMs);
      assert.equal(after.lastStart.readinessMs, activated.timings.readinessMs);
      assert.ok(after.bytesOut > 0, 'bytes are counted');
      assert.ok(after.lastActivity !== null);

      const m = await d.api('GET', '/metrics');
      assert.equal(m.status, 200);
      assert.equal(metric(m.body, 'portwake_activations_total', 'web'), 1);
      assert.equal(metric(m.body, 'portwake_time_to_ready_seconds_count', 'web'), 1);
      assert.equal(metric(m.body, 'portwake_first_connection_wait_seconds_count', 'web'), 1);
      assert.match(m.body, /^portwake_service_state\{service="web",state="ready"\} 1$/m);
      const ttr = metric(m.body, 'portwake_time_to_ready_seconds_sum', 'web');
      assert.ok(ttr !== undefined && Math.abs(ttr - (activated.timings.containerStartMs + activated.timings.readinessMs) / 1000) < 0.002);
      // A second request is no second activation.
      assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
      assert.equal(metric((await d.api('GET', '/metrics')).body, 'portwake_activations_total', 'web'), 1);
    });

    it(`${kind}: POST /services/NAME/start starts the real container and answers once ready; POST stop drains an open download, then stops it`, { timeout: 90_000 }, async (t) => {
      const c = await server(t, `ctl-startstop-${kind}`, true);
      const port = await freePort();
      const d = await apiDaemon(t, kind, { big: { container: c.name, port } });
      const tap = await tapEvents(t, d.target, d.headers);

      const started = await d.api('POST', '/services/big/start');
      assert.equal(started.status, 200, started.body);
      const body = json<{ ok: boolean; tookMs: number; status: ServiceStatus }>(started);
      assert.equal(body.status.state, 'ready', 'answered only once ready');
      assert.equal(await running(c.name), true);
      assert.equal(d.provider.starts, 1);
      // Ready means the app answers: a connection now goes straight through.
      assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200);
      assert.equal(d.provider.starts, 1);

      const dl = await slowDownload(t, { host: '127.0.0.1', port }, '/big', { startedAfterBytes: 256 * 1024 });
      let stopAnswered = false;
      const stopping = d.api('POST', '/services/big/stop').then((r) => { stopAnswered = true; return r; });
      await tap.waitFor('ready->stopping', (e) => e.type === 'state' && e.to === 'stopping');
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(stopAnswered, false, 'the stop waits for the open connection');
      assert.equal(await running(c.name), true, 'the container is not stopped under an open download');
      assert.equal((await d.service('big')).state, 'stopping');
      dl.fast();
      const end = await dl.done;
      assert.equal(end.complete, true, `the download finished (${end.bytes} bytes, ${end.how})`);
      const stopped = await stopping;
      assert.equal(stopped.status, 200, stopped.body);
      assert.equal(json<{ status: ServiceStatus }>(stopped).status.state, 'stopped');
      assert.equal(await running(c.name), false, 'the container is really stopped in Docker');
      assert.equal(d.provider.stops, 1);
      await tap.waitFor('stopping->stopped', (e) => e.type === 'state' && e.from === 'stopping' && e.to === 'stopped');

      const unknown = await d.api('POST', '/services/nope/start');
      assert.equal(unknown.status, 404);
      assert.equal(json<{ error: { code: string } }>(unknown).error.code, 'UNKNOWN_SERVICE');
    });

    it(`${kind}: the status, start, stop and events commands of the CLI against it`, { timeout: 90_000 }, async (t) => {
      const c = await server(t, `ctl-cli-${kind}`);
      const port = await freePort();
      const d = await apiDaemon(t, kind, { web: { container: c.name, port }, ghost: { container: `pwtest-missing-${process.pid}`, port: await freePort(), extra: '    port: 80\n' } });
      // unix: --control ADDRESS; tcp: -c FILE, which supplies both the address and the token.
      const where = kind === 'unix' ? ['--control', d.address] : ['-c', d.path];

      // `portwake events --json` follows along; a failing start of "ghost" shows when it is subscribed.
      const follow = spawnCli(t, engine, ['events', '--json', ...where]);
      await eventually('portwake events is subscribed', async () => {
        await d.api('POST', '/services/ghost/start');
        return follow.stdout().includes('"ghost"');
      }, 20_000);

      const st = await runCli(t, engine, ['status', '--json', ...where]);
      assert.equal(st.code, 0, st.stderr);
      const services = (JSON.parse(st.stdout) as { services: ServiceStatus[] }).services;
      assert.deepEqual(services.map((s) => [s.name, s.state]), [['web', 'stopped'], ['ghost', 'failed']]);

      const start = await runCli(t, engine, ['start', 'web', ...where]);
      assert.equal(start.code, 0, start.stderr);
      assert.match(start.stdout, /^web: ready \(took .+\)\n$/);
      assert.equal(await running(c.name), true);
      assert.equal((await d.service('web')).state, 'ready');

      const table = await runCli(t, engine, ['status', ...where]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /^SERVICE +STATE/);
      assert.match(table.stdout, /^web +ready +0 +never +[\d.]+m?s, /m, 'started by the API: no connection yet, and its cold start time');

      const failed = await runCli(t, engine, ['start', 'ghost', ...where]);
      assert.equal(failed.code, 1, 'a failed start is exit 1');
      assert.match(failed.stderr, /^portwake: service "ghost": container "pwtest-missing-\d+" does not exist/m);

      const stop = await runCli(t, engine, ['stop', 'web', ...where]);
      assert.equal(stop.code, 0, stop.stderr);
      assert.match(stop.stdout, /^web: stopped \(took .+\)\n$/);
      assert.equal(await running(c.name), false);
      assert.equal((await d.service('web')).state, 'stopped');

      await eventually('the events command printed the stop', () => follow.stdout().includes('"to":"stopped"') && follow.stdout().includes('"from":"stopping"'), 10_000);
      const lines = follow.stdout().trimEnd().split('\n').map((l) => JSON.parse(l) as DaemonEvent);
      const web = lines.filter((e) => e.service === 'web' && e.type === 'state').map((e) => e.type === 'state' ? `${e.from}->${e.to}` : '');
      assert.deepEqual(web, ['stopped->starting', 'starting->ready', 'ready->stopping', 'stopping->stopped']);
      assert.ok(lines.some((e) => e.type === 'activated' && e.service === 'web' && e.timings.startedByUs));
      follow.kill('SIGINT');
      assert.equal((await follow.exited).code, 0, `events ends cleanly on SIGINT: ${follow.stderr()}`);

      if (kind === 'tcp') {
        const noToken = await runCli(t, engine, ['status', '--control', d.address]);
        assert.equal(noToken.code, 1);
        assert.match(noToken.stderr, /a bearer token is required \(pass --token-file FILE or set PORTWAKE_TOKEN\)/);
      }
    });
  }

  it('on loopback TCP without a token, start is refused and the container stays stopped; with --token-file the token is required and starts it', { timeout: 120_000 }, async (t) => {
    const c = await server(t, 'ctl-token');
    const port = await freePort();
    const dir = await scratchDir(t, 'pw-token-');
    const daemon = async (extra: string[]): Promise<ControlTarget & { stop(): Promise<void> }> => {
      const controlPort = await freePort();
      const pw = spawnCli(t, engine, ['--log-level', 'warn', 'proxy', '--listen', `127.0.0.1:${port}`, '--container', c.name, '--name', 'web', '--control', `127.0.0.1:${controlPort}`, ...extra]);
      t.after(async () => {
        pw.kill('SIGTERM');
        await pw.exited;
      });
      const target: ControlTarget = { kind: 'tcp', host: '127.0.0.1', port: controlPort };
      await eventually('the control API to answer', async () => (await http(target, 'GET', '/metrics', {}).catch(() => undefined)) !== undefined, 20_000);
      return Object.assign(target, { stop: async () => { pw.kill('SIGTERM'); await pw.exited; } });
    };

    const open = await daemon([]);
    assert.equal((await http(open, 'GET', '/status', {})).status, 200, 'reading stays open');
    const refused = await http(open, 'POST', '/services/web/start', {});
    assert.equal(refused.status, 403, refused.body);
    assert.match(refused.body, /needs a token on a TCP control address/);
    assert.equal(await running(c.name), false, 'the container was not started');
    await open.stop();

    const file = join(dir, 'token');
    await writeFile(file, `${TOKEN}\n`, { mode: 0o600 });
    const guarded = await daemon(['--token-file', file]);
    assert.equal((await http(guarded, 'POST', '/services/web/start', {})).status, 401);
    assert.equal(await running(c.name), false);
    const started = await http(guarded, 'POST', '/services/web/start', { authorization: `Bearer ${TOKEN}` });
    assert.equal(started.status, 200, started.body);
    assert.equal(await running(c.name), true, 'the token started the container');
  });

  it('an idle daemon with the control API and its metrics on sleeps: its main thread wakes about once a second, not 100 times', { timeout: 60_000 }, async (t) => {
    const c = await server(t, 'ctl-idle');
    const [port, controlPort] = await freePorts(2);
    const pw = spawnCli(t, engine, ['--log-level', 'warn', 'proxy', '--listen', `127.0.0.1:${port}`, '--container', c.name, '--control', `127.0.0.1:${controlPort}`]);
    const target: ControlTarget = { kind: 'tcp', host: '127.0.0.1', port: controlPort };
    await eventually('the control API to answer', async () => (await http(target, 'GET', '/metrics', {}).catch(() => undefined))?.status === 200, 20_000);
    const metrics = await http(target, 'GET', '/metrics', {});
    assert.match(metrics.body, /^nodejs_eventloop_lag_p99_seconds /m, 'the event-loop metrics are still there');
    const pid = pw.proc.pid ?? 0;
    // Voluntary context switches of the main thread: each is the event loop going to sleep.
    const sleeps = async (): Promise<number> => Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(await readFile(`/proc/${pid}/task/${pid}/status`, 'utf8'))?.[1]);
    await new Promise((r) => setTimeout(r, 1_000));
    const before = await sleeps();
    await new Promise((r) => setTimeout(r, 3_000));
    const woke = (await sleeps()) - before;
    assert.ok(woke <= 15, `the main thread woke ${woke} times in 3 s of idling (prom-client's default event-loop sampling: ~300)`);
  });
});
