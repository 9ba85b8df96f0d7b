// The recipe's proxy: /lib/systemd/systemd-socket-proxyd started by `systemd-socket-activate -l`,
// which holds the listening socket and execs the given command (same pid) on the first connection,
// passing the socket as fd 3 — what a .socket unit does for its .service.

import { join } from 'node:path';
import type { BenchContext } from '../support/context.ts';
import { spawnChild, tail, waitUntil, type Child } from '../support/proc.ts';
import { readFileSync } from 'node:fs';

export const PROXYD = '/lib/systemd/systemd-socket-proxyd';
const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

let instances = 0;

/** Socket-activates `command` on 127.0.0.1:port; resolves once the socket listens. */
export async function socketActivate(ctx: BenchContext, label: string, port: number, command: readonly string[], dockerHost = ctx.engine.dockerHost): Promise<Child> {
  const logFile = join(ctx.tmp, `${label}-${++instances}.log`);
  const child = spawnChild(ctx.cleanup, 'systemd-socket-activate', [
    '-l', `127.0.0.1:${port}`,
    // It passes only what -E names (besides LISTEN_*) to the command.
    '-E', `PATH=${SYSTEM_PATH}`,
    '-E', `DOCKER_HOST=${dockerHost}`,
    ...command,
  ], logFile);
  let exited: string | undefined;
  void child.exited.then((how) => { exited = String(how); });
  await waitUntil(`${label} to listen on ${port}`, () => {
    if (exited !== undefined) throw new Error(`${label} exited (${exited}) before listening:\n${tail(logFile)}`);
    return readFileSync(logFile, 'utf8').includes('Listening on') ? true : undefined;
  }, 10_000);
  return child;
}

/** systemd-socket-proxyd forwarding 127.0.0.1:port to upstream (HOST:PORT); default limits. */
export function startProxyd(ctx: BenchContext, port: number, upstream: string): Promise<Child> {
  return socketActivate(ctx, 'proxyd', port, [PROXYD, upstream]);
}
