// Wake filters against the real engine: a source the filter refuses starts nothing (its
// connection is closed at once), an allowed one starts the container, and once it runs the
// refused source is served too. Two sources on loopback: clients bound to 127.0.0.2 and 127.0.0.1.

import assert from 'node:assert/strict';
import http from 'node:http';
import { before, describe, it } from 'node:test';
import { eventually, freePort, httpdContainer, isRunning, startDaemon } from '../support/daemon-harness.ts';
import { ensureImage, getEngine, type Engine } from '../support/engine.ts';

let engine: Engine;
let busybox: string;

/** GET / from a given local address: the status, or how the connection failed. */
function getFrom(localAddress: string, port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, localAddress, path: '/', agent: false, timeout: 30_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

describe('wake filters against a real Docker engine', { timeout: 180_000 }, () => {
  before(async () => {
    engine = await getEngine();
    busybox = await ensureImage('busybox');
  });

  for (const rule of ['deny: {sources: [127.0.0.2]}', 'allow: {sources: ["127.0.0.1", "::1"]}']) {
    it(`${rule}: the refused source starts nothing; an allowed one starts the container; then everyone flows`, async (t) => {
      const c = await httpdContainer(t, engine, busybox, 'wake');
      const port = await freePort();
      const { daemon, provider, events } = await startDaemon(t, engine, [
        'services:',
        '  web:',
        `    listen: 127.0.0.1:${port}`,
        `    container: ${c.name}`,
        `    wake: {${rule}}`,
        '',
      ].join('\n'));

      for (let i = 0; i < 3; i++) {
        const refused = await getFrom('127.0.0.2', port);
        assert.match(String(refused), /^(ECONNRESET|socket hang up|EPIPE)$/, 'closed at once, no answer');
      }
      // Give a (wrong) start every chance to show up before looking.
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(provider.startRequests, 0, 'no start was asked for');
      assert.equal(await isRunning(engine, c.name), false);
      assert.equal(events.filter((e) => e.type === 'refused' && e.reason === 'wake_refused').length, 3, 'each refusal is counted');

      assert.equal(await getFrom('127.0.0.1', port), 200, 'an allowed source wakes the service');
      assert.equal(await isRunning(engine, c.name), true);
      assert.equal(await getFrom('127.0.0.2', port), 200, 'the running service serves the refused source too');
      assert.equal(provider.starts, 1);

      // Stopped again: the filter decides again.
      await daemon.stop('web');
      await eventually('stopped', async () => !(await isRunning(engine, c.name)));
      assert.match(String(await getFrom('127.0.0.2', port)), /^(ECONNRESET|socket hang up|EPIPE)$/);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await isRunning(engine, c.name), false);
      assert.equal(provider.startRequests, 1);
    });
  }
});
