// `idleOn: traffic` behind a real reverse proxy: an nginx container with upstream keep-alive holds
// connections to portwake open while nobody uses the service. With idleOn: traffic the app
// container (nginx as well, which keeps connections alive) is stopped after idleTimeout anyway and
// the proxy's idle connections are closed in order; with idleOn: connections (the default) the
// open connections keep it running.

import assert from 'node:assert/strict';
import { describe, it, type TestContext } from 'node:test';
import type { DaemonEvent } from '../../src/core/status.ts';
import { eventually, freePort, httpGet, isRunning, startDaemon } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine, type Engine } from '../support/engine.ts';

/** The host as the containers on the test bridge see it. */
const HOST = '10.213.0.1';
const IDLE_MS = 3_000;

function proxyConfig(port: number): string {
  return [
    'daemon off;',
    'worker_processes 1;',
    'pid /tmp/nginx.pid;',
    'error_log stderr info;',
    'events { worker_connections 64; }',
    'http {',
    '  access_log off;',
    '  client_body_temp_path /tmp; proxy_temp_path /tmp;',
    `  upstream pw { server ${HOST}:${port}; keepalive 8; }`,
    '  server {',
    '    listen 80;',
    '    location / {',
    '      proxy_pass http://pw;',
    '      proxy_http_version 1.1;',
    '      proxy_set_header Connection "";',
    '    }',
    '  }',
    '}',
  ].join('\n');
}

async function containerIp(engine: Engine, name: string): Promise<string> {
  const info = (await engine.docker.getContainer(name).inspect()) as unknown as { NetworkSettings: { IPAddress: string } };
  return info.NetworkSettings.IPAddress;
}

async function containerLogs(engine: Engine, name: string): Promise<string> {
  const raw = await engine.docker.getContainer(name).logs({ stdout: true, stderr: true, follow: false });
  return raw.toString('latin1');
}

/** The app (nginx, stopped), portwake on the bridge address in front of it, and nginx proxying to portwake. */
async function setUp(t: TestContext, idleOn: string | undefined): Promise<{ engine: Engine; app: string; proxyName: string; proxyIp: string; events: DaemonEvent[]; status: () => { openConnections: number } }> {
  const engine = await getEngine();
  const image = await ensureImage('nginx');
  const app = await createContainer(engine, { image, nameHint: 'idle-app', expose: [80] });
  t.after(() => app.remove());
  const port = await freePort(HOST);
  const { daemon, events } = await startDaemon(t, engine, [
    'services:',
    '  web:',
    `    listen: "${HOST}:${port}"`,
    `    container: ${app.name}`,
    '    port: 80',
    `    idleTimeout: ${IDLE_MS}ms`,
    ...(idleOn === undefined ? [] : [`    idleOn: ${idleOn}`]),
    '',
  ].join('\n'));
  const conf = proxyConfig(port).replaceAll("'", "'\\''");
  const proxy = await createContainer(engine, {
    image,
    nameHint: 'idle-proxy',
    cmd: ['/bin/sh', '-c', `printf '%s\\n' '${conf}' > /tmp/proxy.conf && exec /usr/sbin/nginx -e stderr -c /tmp/proxy.conf`],
    expose: [80],
    start: true,
  });
  t.after(() => proxy.remove());
  const proxyIp = await containerIp(engine, proxy.name);
  await eventually('the proxy listens', async () => (await httpGet({ host: proxyIp, port: 80 }, '/', 5_000).catch(() => undefined)) !== undefined, 30_000);
  const status = (): { openConnections: number } => daemon.status().find((s) => s.name === 'web') ?? assert.fail('no status for web');
  return { engine, app: app.name, proxyName: proxy.name, proxyIp, events, status };
}

describe('idle behind a reverse proxy with upstream keep-alive (real nginx)', { timeout: 180_000 }, () => {
  it('idleOn: traffic stops the app after idleTimeout without bytes, closing the kept-alive connections in order', async (t) => {
    const { engine, app, proxyName, proxyIp, events, status } = await setUp(t, 'traffic');
    // The first request (while setting up) started the app; a few more through the same keep-alive connection.
    for (let i = 0; i < 3; i++) assert.equal((await httpGet({ host: proxyIp, port: 80 })).status, 200);
    assert.ok(await isRunning(engine, app));
    assert.ok(status().openConnections >= 1, 'nginx keeps its upstream connection to portwake open');
    // Then nothing: the app is stopped while nginx's connection is still open.
    await eventually('the app stopped for want of traffic', async () => !(await isRunning(engine, app)), 30_000);
    const closes = events.filter((e): e is DaemonEvent & { type: 'connection' } => e.type === 'connection' && e.change === 'close');
    const idle = closes.filter((e) => e.reason === 'idle');
    assert.ok(idle.length >= 1, `the kept-alive connection(s) were closed for idleness, in order (closes: ${JSON.stringify(closes.map((e) => e.reason))})`);
    assert.ok(closes.every((e) => e.reason === 'done' || e.reason === 'idle'), `no connection was reset (closes: ${JSON.stringify(closes.map((e) => e.reason))})`);
    assert.equal(status().openConnections, 0);
    // nginx saw a clean close: no reset in its log, and the next request starts the app again.
    assert.equal((await httpGet({ host: proxyIp, port: 80 })).status, 200);
    const logs = await containerLogs(engine, proxyName);
    assert.doesNotMatch(logs, /reset by peer|prematurely closed/, 'nginx logged no reset from portwake');
  });

  it('idleOn: connections (the default) keeps the app running while nginx holds a connection open', async (t) => {
    const { engine, app, proxyIp, status } = await setUp(t, undefined);
    for (let i = 0; i < 3; i++) assert.equal((await httpGet({ host: proxyIp, port: 80 })).status, 200);
    assert.ok(status().openConnections >= 1, 'nginx keeps its upstream connection to portwake open');
    await new Promise((r) => setTimeout(r, 3 * IDLE_MS));
    assert.ok(await isRunning(engine, app), 'an open connection keeps the service up');
  });
});
