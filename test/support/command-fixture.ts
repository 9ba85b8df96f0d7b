// Real processes for the command provider's tests: a small node TCP server for run: (answers
// "hello from SERVICE"), and shell scripts driving a busybox httpd in the background for
// start:/stop:/status:, with a pid file in a temporary directory.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/core/clock.ts';
import type { Logger } from '../../src/core/logger.ts';
import { CommandProvider } from '../../src/providers/command/provider.ts';
import type { CommandMode, CommandServiceSpec } from '../../src/providers/command/spec.ts';
import { freePort } from './free-port.ts';
import type { ContractContainerSpec, ProviderFixture } from './provider-contract.ts';

export interface ServerOptions {
  /** Exit with code 1 this long after it started listening. */
  crashAfterMs?: number;
  /** Listen only after this long. */
  listenAfterMs?: number;
  /** Never listen at all. */
  noListen?: boolean;
}

/**
 * argv of a node TCP server on PORTWAKE_UPSTREAM_PORT that greets with its service's name and prints
 * a line on start. A reset connection (portwake's readiness probe closes with a reset) is ignored,
 * as a real server does: unhandled, it would crash the process.
 */
export function nodeServer(o: ServerOptions = {}): string[] {
  const script = [
    "const net = require('node:net');",
    "const name = process.env.PORTWAKE_SERVICE;",
    // The crash is timed from the moment it listens, so that a slow start on a busy machine still serves first.
    `const crash = () => ${o.crashAfterMs === undefined ? 'undefined' : `setTimeout(() => { console.error('crashing'); process.exit(1); }, ${o.crashAfterMs})`};`,
    "const serve = () => net.createServer((c) => { c.on('error', () => undefined); c.end('hello from ' + name + '\\n'); }).listen(Number(process.env.PORTWAKE_UPSTREAM_PORT), '127.0.0.1', () => { console.log('listening for ' + name + ' on ' + process.env.PORTWAKE_UPSTREAM); crash(); });",
    o.noListen === true ? 'setInterval(() => undefined, 1000);' : `setTimeout(serve, ${o.listenAfterMs ?? 0});`,
  ].join('\n');
  return [process.execPath, '-e', script];
}

/**
 * argv of a busybox httpd on PORTWAKE_UPSTREAM_PORT under a shell that ignores SIGTERM, which the
 * httpd inherits (node resets its signal dispositions at start-up, so it cannot stand in here).
 */
export function sigtermIgnoringServer(dir: string): string[] {
  return ['sh', '-c', `trap "" TERM; busybox httpd -f -p 127.0.0.1:$PORTWAKE_UPSTREAM_PORT -h ${dir} & wait`];
}

/** start:/stop:/status: for a busybox httpd on PORTWAKE_UPSTREAM_PORT, its pid in DIR/pid. Status ignores a zombie. */
export function managedHttpd(dir: string, o: { startHangs?: boolean; stopHangs?: boolean; startFails?: boolean } = {}): CommandMode {
  writeFileSync(join(dir, 'index.html'), 'hello from a managed httpd\n');
  const pid = join(dir, 'pid');
  const alive = `test -f ${pid} && p=$(cat ${pid}) && kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' /proc/"$p"/status`;
  return {
    kind: 'manage',
    start: ['sh', '-c', o.startFails === true ? 'echo "no such unit" >&2; exit 3'
      : `${o.startHangs === true ? 'sleep 600; ' : ''}busybox httpd -f -p 127.0.0.1:$PORTWAKE_UPSTREAM_PORT -h ${dir} & echo $! > ${pid}`],
    stop: ['sh', '-c', `${o.stopHangs === true ? 'sleep 600; ' : ''}p=$(cat ${pid}); kill "$p"; while kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' /proc/"$p"/status; do sleep 0.05; done; rm -f ${pid}`],
    status: ['sh', '-c', alive],
  };
}

let n = 0;

/** A service spec on a fresh port. */
export async function commandSpec(command: CommandMode | ((dir: string) => CommandMode), dirs: string[]): Promise<CommandServiceSpec> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pwtest-cmd-'));
  dirs.push(dir);
  return {
    name: `pwtest-cmd-${process.pid}-${++n}`,
    command: typeof command === 'function' ? command(dir) : command,
    upstream: { kind: 'tcp', host: '127.0.0.1', port },
    listen: ['127.0.0.1:1'],
    stopTimeoutMs: 1000,
  };
}

/** The contract's fixture for one mode of the command provider. */
export function commandFixture(mode: 'run' | 'manage', logger: Logger): () => Promise<ProviderFixture> {
  return async () => {
    const provider = new CommandProvider({ logger, env: process.env, clock: systemClock });
    const dirs: string[] = [];
    const names: string[] = [];
    return {
      provider,
      async createStopped(spec: ContractContainerSpec = {}) {
        const s = await commandSpec((dir) => mode === 'manage' ? managedHttpd(dir)
          : spec.ignoreSigterm === true ? { kind: 'run', run: sigtermIgnoringServer(dir) }
          : { kind: 'run', run: nodeServer(spec.crashAfterMs === undefined ? {} : { crashAfterMs: spec.crashAfterMs }) }, dirs);
        provider.set(s);
        names.push(s.name);
        return { name: s.name, port: s.upstream.kind === 'tcp' ? s.upstream.port : 0 };
      },
      unreachable: () => provider,
      async cleanup() {
        await provider.close(1000);
        for (const name of names) await provider.stop(name, 1).catch(() => undefined);
        for (const d of dirs) rmSync(d, { recursive: true, force: true });
      },
    };
  };
}
