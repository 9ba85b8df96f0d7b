// A half-dead connection against a real container: the client sends its request and half-closes,
// and the app (busybox httpd running a CGI that never answers) keeps the connection open without
// a byte. portwake counts it in status as half-closed and resets it after halfCloseTimeout instead
// of keeping it (and the service) open for good.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { connect, eventually, freePort, httpGet, startDaemon, whenClosed } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine } from '../support/engine.ts';

describe('half-closed connections (real engine)', { timeout: 120_000 }, () => {
  it('a client that half-closed while the app never answers is counted apart and reset after halfCloseTimeout', async (t) => {
    const engine = await getEngine();
    const image = await ensureImage('busybox');
    const script = 'mkdir -p /www/cgi-bin && printf "#!/bin/sh\\nexec sleep 3600\\n" > /www/cgi-bin/hang && chmod +x /www/cgi-bin/hang && echo ok > /www/index.html && exec httpd -f -p 80 -h /www';
    const app = await createContainer(engine, { image, cmd: ['/bin/sh', '-c', script], expose: [80], nameHint: 'halfdead', stopSignal: 'SIGKILL' });
    t.after(() => app.remove());
    const port = await freePort();
    const { daemon } = await startDaemon(t, engine, `services:\n  web:\n    listen: 127.0.0.1:${port}\n    container: ${app.name}\n    halfCloseTimeout: 2s\n`);
    assert.equal((await httpGet({ host: '127.0.0.1', port })).status, 200, 'the app answers ordinary requests');
    const status = (): { openConnections: number; halfClosedConnections?: number } => daemon.status().find((s) => s.name === 'web') ?? assert.fail('no status');

    const client = await connect({ host: '127.0.0.1', port });
    t.after(() => client.destroy());
    const closed = whenClosed(client);
    const sentAt = Date.now();
    client.end('GET /cgi-bin/hang HTTP/1.0\r\n\r\n');
    await eventually('counted as half-closed', () => status().halfClosedConnections === 1, 10_000);
    assert.equal(status().openConnections, 1);
    const end = await Promise.race([closed, new Promise<'open'>((r) => setTimeout(() => r('open'), 20_000))]);
    assert.notEqual(end, 'open', 'the half-dead connection was closed');
    assert.ok(Date.now() - sentAt >= 1_900, 'not before halfCloseTimeout');
    await eventually('gone from the status', () => status().openConnections === 0 && status().halfClosedConnections === 0, 10_000);
  });
});
