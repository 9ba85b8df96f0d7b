// A Unix socket file left behind by a process that died: found by connecting to it, and removed
// so the path can be bound again. One implementation for the services' listeners (listen.ts) and
// the control API (control/server.ts): a live socket must never be unlinked, not even one so busy
// that its accept queue is full.

import fs from 'node:fs/promises';
import net from 'node:net';
import { PortwakeError } from '../../core/errors.ts';
import { systemErrorText } from '../sockets.ts';

/** How long a connect may take before the socket counts as live (a listener too busy to answer). */
export const STALE_PROBE_TIMEOUT_MS = 1000;

/** Builds the caller's error for a reason (its own code and prefix: which listener, which path). */
export type StaleSocketFail = (reason: string, cause?: unknown) => PortwakeError;

/**
 * Removes `path` when it is a socket file nobody listens on (a connect is refused); returns at once
 * when it does not exist. Throws `fail(…)` when the path is in use (a connect succeeds, times out,
 * or finds the accept queue full), is not a socket, or cannot be probed or removed.
 */
export async function removeStaleSocket(path: string, fail: StaleSocketFail, timeoutMs = STALE_PROBE_TIMEOUT_MS): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw fail(`cannot inspect ${path}: ${systemErrorText(err)}`, err);
  }
  if (!stat.isSocket()) throw fail(`${path} exists and is not a socket, refusing to replace it`);
  const probe = await probeUnixSocket(path, timeoutMs);
  if (probe === 'live') throw fail(`${path} is in use by a running process`);
  if (probe !== 'stale') throw fail(`${path} exists and cannot be probed (${probe.error}), refusing to replace it`);
  try {
    await fs.unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fail(`cannot remove stale socket ${path}: ${systemErrorText(err)}`, err);
  }
}

/**
 * 'stale' when nobody listens (refused, or the file vanished), 'live' when someone accepts or is
 * too busy to (EAGAIN: a full accept queue; no answer within timeoutMs), else the reason.
 */
export function probeUnixSocket(path: string, timeoutMs = STALE_PROBE_TIMEOUT_MS): Promise<'stale' | 'live' | { error: string }> {
  return new Promise((resolve) => {
    const socket = net.connect({ path });
    // A real timer: it bounds a real connect(2) to the file, before any service exists.
    const timer = setTimeout(() => finish('live'), timeoutMs);
    function finish(result: 'stale' | 'live' | { error: string }): void {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    }
    socket.once('connect', () => finish('live'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') finish('stale');
      else if (err.code === 'EAGAIN') finish('live');
      else finish({ error: systemErrorText(err) });
    });
  });
}
