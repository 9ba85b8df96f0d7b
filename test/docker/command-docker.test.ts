// A Docker service and a command service in one daemon, on the real engine: each service gets its
// own provider, each provider's events go to its own services only — the command service is named
// exactly like the container, and a stop of the container outside portwake leaves it serving.

import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { eventually, httpdContainer, httpGet, isRunning, startDaemon } from '../support/daemon-harness.ts';
import { freePorts } from '../support/free-port.ts';
import { ensureImage, getEngine } from '../support/engine.ts';
import { nodeServer } from '../support/command-fixture.ts';

describe('Docker and command services in one daemon (real engine, real process)', () => {
  it('both wake on demand; an outside stop of the container closes only the Docker service, not the command service of the same name', async (t) => {
    const engine = await getEngine();
    const c = await httpdContainer(t, engine, await ensureImage('busybox'), 'mixed');
    const [webPort, cmdPort, upstream] = await freePorts(3);
    const yaml = [
      'services:',
      '  web:',
      `    listen: 127.0.0.1:${webPort}`,
      `    container: ${c.name}`,
      // Named like the container: its "container" is named after it.
      `  ${c.name}:`,
      `    listen: 127.0.0.1:${cmdPort}`,
      '    provider: command',
      `    run: [${nodeServer().map((a) => JSON.stringify(a)).join(', ')}]`,
      `    upstream: 127.0.0.1:${upstream}`,
      '',
    ].join('\n');
    const { daemon } = await startDaemon(t, engine, yaml);
    const web = await httpGet({ host: '127.0.0.1', port: webPort });
    assert.match(web.body.toString(), /hello-from-/);
    const greeting = await new Promise<string>((resolve, reject) => {
      const s = net.connect(cmdPort, '127.0.0.1');
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (d: string) => { text += d; });
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    assert.equal(greeting, `hello from ${c.name}\n`);
    const state = (name: string): string | undefined => daemon.status().find((s) => s.name === name)?.state;
    assert.equal(state('web'), 'ready');
    assert.equal(state(c.name), 'ready');

    await engine.docker.getContainer(c.name).stop({ t: 0 });
    await eventually('the Docker service to see its container stopped', () => state('web') === 'stopped');
    assert.equal(await isRunning(engine, c.name), false);
    // The container's die event named "${c.name}" went to the Docker provider's services only.
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(state(c.name), 'ready', 'the command service of the same name is untouched');
    await daemon.shutdown('test end');
  });
});
