// An upstream whose connects hang, for the proxy tests and the real-engine ones alike.

import { spawn } from 'node:child_process';
import net from 'node:net';
import type { TestContext } from 'node:test';
import type { Endpoint } from '../../src/core/provider.ts';

/**
 * An upstream whose connects hang: a stopped process's listener with its accept queue full, so
 * the kernel drops further SYNs and a connect stays pending.
 */
export async function stuckUpstream(t: TestContext): Promise<Extract<Endpoint, { kind: 'tcp' }>> {
  const child = spawn(process.execPath, ['-e', "const s = require('net').createServer().listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => console.log(s.address().port))"], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => { child.kill('SIGKILL'); });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.once('data', (c: Buffer) => resolve(Number(c.toString())));
    child.once('exit', (code) => reject(new Error(`the stuck upstream's process exited (${code}) before listening`)));
  });
  process.kill(child.pid ?? 0, 'SIGSTOP');
  for (let i = 0; i < 4; i++) {
    const filler = net.connect({ host: '127.0.0.1', port });
    t.after(() => filler.destroy());
    filler.on('error', () => undefined);
  }
  await new Promise((r) => setTimeout(r, 100));
  return { kind: 'tcp', host: '127.0.0.1', port };
}
