// listen.ts on real sockets: dual stack, IPv6 literals, errors, Unix socket files, inherited fds.
// proxy-listen-native.test.ts runs these again with native accepting (ListenOptions.onDescriptor).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { PortwakeError } from '../../src/core/errors.ts';
import { listen, listenFd, type BoundListener, type ListenOptions, type ListenTarget } from '../../src/proxy/accept/listen.ts';
import { adoptSocket } from '../../src/proxy/native.ts';
import { connect, nativeDataPath, readAll, tempDir } from './proxy-support.ts';

const native = nativeDataPath() !== undefined;

/** Receivers that greet every connection with `text` and close it, accepted by Node or natively. */
function greeterOptions(text: string, accepted: net.Socket[] = []): ListenOptions {
  const greet = (socket: net.Socket): void => {
    accepted.push(socket);
    socket.end(text);
  };
  return {
    service: 'web',
    onConnection: greet,
    onDescriptor: native ? (fd) => greet(adoptSocket(fd)) : undefined,
    onError: (err) => assert.fail(err),
  };
}

/** Binds target; each accepted socket gets "hi\n" and is closed. */
async function bindGreeter(t: TestContext, target: ListenTarget): Promise<BoundListener> {
  const accepted: net.Socket[] = [];
  const owned: { listener?: BoundListener } = {};
  t.after(async () => {
    for (const s of accepted) s.destroy();
    await owned.listener?.close();
  });
  const bound = await listen(target, greeterOptions('hi\n', accepted));
  owned.listener = bound;
  // Unix socket files stay with Node (its listener removes the file on close).
  assert.equal(bound.native, native && target.kind !== 'unix', 'accepting on the requested path');
  return bound;
}

function portOf(bound: BoundListener): number {
  return (bound.address as net.AddressInfo).port;
}

async function greeting(t: TestContext, options: net.NetConnectOpts): Promise<string> {
  const socket = await connect(t, options);
  return (await readAll(socket)).toString();
}

test('PORT alone listens dual-stack: one listener accepts on 127.0.0.1 and ::1', async (t) => {
  const bound = await bindGreeter(t, { kind: 'tcp', host: undefined, port: 0, text: ':0' });
  const address = bound.address as net.AddressInfo;
  assert.equal(address.address, '::');
  assert.equal(await greeting(t, { host: '127.0.0.1', port: address.port }), 'hi\n');
  assert.equal(await greeting(t, { host: '::1', port: address.port }), 'hi\n');
});

test('[::1]:PORT listens on IPv6 loopback only', async (t) => {
  const bound = await bindGreeter(t, { kind: 'tcp', host: '[::1]', port: 0, text: '[::1]:0' });
  assert.equal((bound.address as net.AddressInfo).address, '::1');
  assert.equal(await greeting(t, { host: '::1', port: portOf(bound) }), 'hi\n');
  await assert.rejects(connect(t, { host: '127.0.0.1', port: portOf(bound) }), { code: 'ECONNREFUSED' });
});

test('["0.0.0.0:P", "[::]:P"] binds both, each family on its own socket', async (t) => {
  const v4 = await bindGreeter(t, { kind: 'tcp', host: '0.0.0.0', port: 0, text: '0.0.0.0:0' });
  const port = portOf(v4);
  const v6 = await bindGreeter(t, { kind: 'tcp', host: '[::]', port, text: `[::]:${port}` });
  assert.equal((v6.address as net.AddressInfo).address, '::');
  assert.equal(await greeting(t, { host: '127.0.0.1', port }), 'hi\n');
  assert.equal(await greeting(t, { host: '::1', port }), 'hi\n');
});

test('HOST:PORT listens on that address', async (t) => {
  const bound = await bindGreeter(t, { kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  assert.equal(await greeting(t, { host: '127.0.0.1', port: portOf(bound) }), 'hi\n');
});

test('an address in use is a LISTEN_FAILED error naming service, address and errno', async (t) => {
  const first = await bindGreeter(t, { kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' });
  const port = portOf(first);
  const text = `127.0.0.1:${port}`;
  await assert.rejects(
    listen({ kind: 'tcp', host: '127.0.0.1', port, text }, { service: 'web', onConnection: (s) => s.destroy(), onError: () => undefined }),
    (err: unknown) => {
      assert.ok(err instanceof PortwakeError);
      assert.equal(err.code, 'LISTEN_FAILED');
      assert.equal(err.message, `service "web": cannot listen on ${text}: address already in use (EADDRINUSE)`);
      return true;
    },
  );
});

test('unix socket: created with the configured mode, removed on close', async (t) => {
  const file = path.join(tempDir(t), 'web.sock');
  const bound = await bindGreeter(t, { kind: 'unix', path: file, mode: 0o600, text: `unix:${file}` });
  const stat = fs.statSync(file);
  assert.ok(stat.isSocket());
  assert.equal(stat.mode & 0o777, 0o600);
  assert.equal(await greeting(t, { path: file }), 'hi\n');
  await bound.close();
  assert.equal(fs.existsSync(file), false);
  await bound.close(); // idempotent
});

test('unix socket: a stale file left by a dead process is replaced', async (t) => {
  const file = path.join(tempDir(t), 'web.sock');
  // A socket file nobody listens on: bind a server, then close its fd without unlinking (as a
  // SIGKILLed process leaves it) — close() would unlink it, so the file is re-created by hand.
  const dead = net.createServer();
  await new Promise<void>((resolve) => dead.listen(file, resolve));
  const inode = fs.statSync(file).ino;
  fs.renameSync(file, `${file}.keep`);
  await new Promise<void>((resolve) => dead.close(() => resolve()));
  fs.renameSync(`${file}.keep`, file);
  assert.equal(fs.statSync(file).ino, inode);
  assert.ok(fs.statSync(file).isSocket());
  await assert.rejects(connect(t, { path: file }), { code: 'ECONNREFUSED' });

  await bindGreeter(t, { kind: 'unix', path: file, mode: undefined, text: `unix:${file}` });
  assert.equal(await greeting(t, { path: file }), 'hi\n');
});

test('unix socket: a file a live process listens on is an error, and is left alone', async (t) => {
  const file = path.join(tempDir(t), 'web.sock');
  await bindGreeter(t, { kind: 'unix', path: file, mode: undefined, text: `unix:${file}` });
  await assert.rejects(
    listen({ kind: 'unix', path: file, mode: undefined, text: `unix:${file}` }, { service: 'web', onConnection: (s) => s.destroy(), onError: () => undefined }),
    { code: 'LISTEN_FAILED', message: `service "web": cannot listen on unix:${file}: ${file} is in use by a running process` },
  );
  assert.equal(await greeting(t, { path: file }), 'hi\n');
});

test('unix socket: a regular file at the path is never removed', async (t) => {
  const file = path.join(tempDir(t), 'web.sock');
  fs.writeFileSync(file, 'precious');
  await assert.rejects(
    listen({ kind: 'unix', path: file, mode: undefined, text: `unix:${file}` }, { service: 'web', onConnection: (s) => s.destroy(), onError: () => undefined }),
    { code: 'LISTEN_FAILED', message: /exists and is not a socket/ },
  );
  assert.equal(fs.readFileSync(file, 'utf8'), 'precious');
});

test('fd: a listening socket inherited by number (systemd) is served', async (t) => {
  // The parent binds, the child inherits the fd as fd 3 (as systemd passes LISTEN_FDS) and serves it.
  const parent = net.createServer();
  t.after(() => parent.close());
  await new Promise<void>((resolve) => parent.listen(0, '127.0.0.1', resolve));
  const port = (parent.address() as net.AddressInfo).port;
  const fd = (parent as unknown as { _handle: { fd: number } })._handle.fd;
  assert.ok(fd > 2);

  const listenUrl = new URL('../../src/proxy/accept/listen.ts', import.meta.url).href;
  const script = `
    const { listenFd } = await import(${JSON.stringify(listenUrl)});
    const { adoptSocket } = await import(${JSON.stringify(new URL('../../src/proxy/native.ts', import.meta.url).href)});
    const bound = await listenFd({ fd: 3, text: 'systemd:web' }, {
      service: 'web',
      onConnection: (s) => s.end('from child\\n'),
      onDescriptor: ${native} ? (fd) => adoptSocket(fd).end('from child\\n') : undefined,
      onError: (e) => { console.error(e); process.exit(2); },
    });
    if (bound.native !== ${native}) process.exit(3);
    process.stdout.write('ready\\n');
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit', fd] });
  t.after(() => child.kill());
  await new Promise<void>((resolve, reject) => {
    child.stdout?.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`child exited with ${code}`)));
  });
  parent.close(); // only the child accepts from now on
  assert.equal(await greeting(t, { host: '127.0.0.1', port }), 'from child\n');
});

test('close() frees the address at once: the same port can be bound again right away (a reload does)', async (t) => {
  const first = await listen({ kind: 'tcp', host: '127.0.0.1', port: 0, text: '127.0.0.1:0' }, greeterOptions('first\n'));
  const port = (first.address as net.AddressInfo).port;
  assert.equal(await greeting(t, { host: '127.0.0.1', port }), 'first\n');
  await first.close();
  const second = await listen({ kind: 'tcp', host: '127.0.0.1', port, text: `127.0.0.1:${port}` }, greeterOptions('second\n'));
  t.after(() => second.close());
  assert.equal(await greeting(t, { host: '127.0.0.1', port }), 'second\n');
});

test('fd: a bad fd is a LISTEN_FAILED error', async () => {
  await assert.rejects(
    listenFd({ fd: 987, text: 'systemd:web' }, { service: 'web', onConnection: (s) => s.destroy(), onError: () => undefined }),
    { code: 'LISTEN_FAILED', message: /^service "web": cannot listen on systemd:web: / },
  );
});
