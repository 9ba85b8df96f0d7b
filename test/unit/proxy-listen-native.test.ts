// Every listener test again with native accepting (src/native/listener.c), as the daemon runs
// when the addon is built; and what happens when a listener cannot be moved to native code.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { connect, readAll, useNativeDataPath } from './proxy-support.ts';

useNativeDataPath();
await import('./proxy-listen.test.ts');

test('no descriptor left to move a listener to native code: Node keeps accepting on it', async (t) => {
  // A child fills its descriptor table, leaving one free: the listening socket takes it, and its
  // native duplicate finds none.
  const listenUrl = new URL('../../src/proxy/accept/listen.ts', import.meta.url).href;
  const nativeUrl = new URL('../../src/proxy/native.ts', import.meta.url).href;
  const script = `
    const fs = await import('node:fs');
    const { listen } = await import(${JSON.stringify(listenUrl)});
    const { adoptSocket, nativeLoaded } = await import(${JSON.stringify(nativeUrl)});
    if (!nativeLoaded()) process.exit(3); // loading the addon takes a descriptor: before the table fills
    const taken = [];
    for (;;) {
      try { taken.push(fs.openSync('/dev/null', 'r')); } catch { break; }
    }
    fs.closeSync(taken.pop());
    const bound = await listen({ kind: 'tcp', host: '127.0.0.1', port: 0, text: 'local' }, {
      service: 'web',
      onConnection: (s) => s.end('from node\\n'),
      onDescriptor: (fd) => adoptSocket(fd).end('from native\\n'),
      onError: () => undefined,
    });
    for (const fd of taken.splice(0, 16)) fs.closeSync(fd); // room to accept
    process.stdout.write(JSON.stringify({ native: bound.native, port: bound.address.port }) + '\\n');
  `;
  const child = spawn('/bin/sh', ['-c', 'ulimit -n 256 && exec "$0" --import tsx --input-type=module -e "$1"', process.execPath, script], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  const line = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (c: Buffer) => resolve(c.toString()));
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  const { native, port } = JSON.parse(line) as { native: boolean; port: number };
  assert.equal(native, false, 'the listener stayed with Node');
  const socket = await connect(t, { host: '127.0.0.1', port });
  assert.equal((await readAll(socket)).toString(), 'from node\n');
});
