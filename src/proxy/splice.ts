// The zero-copy data path: a connection that turns out to be a bulk stream is handed, both of its
// sockets, to portwake's native addon (src/native/splice.c), which moves its bytes with splice(2)
// — kernel to kernel, the way systemd-socket-proxyd does — on the same event loop. Connections
// that only exchange a request and a reply never get there: the hand-over costs two pipes and a
// few system calls, worth it only when megabytes follow.
//
// The addon is built by `npm install` / `npm ci` (binding.gyp, node-gyp against Node's headers).
// Without it — no compiler, another OS, PORTWAKE_SPLICE=off — every byte goes through the
// JavaScript path (connection.ts) as before; `spliceSupport()` says which and why.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';

/** When a connection is handed over: after this many bytes, at a read that filled its buffer. */
export interface SplicePolicy {
  afterBytes: number;
}

/** The default: 1 MiB moved in user space first (a web page and its assets stay in JavaScript). */
export const DEFAULT_SPLICE_POLICY: SplicePolicy = { afterBytes: 1024 * 1024 };

export interface SpliceEnd {
  /** Both directions ended in order (FIN each way, every byte delivered). */
  ok: boolean;
  /** Which socket failed, when one did. */
  failed: 'client' | 'upstream' | undefined;
  error: NodeJS.ErrnoException | undefined;
}

export interface SplicePump {
  /** Bytes client→upstream (0) and upstream→client (1) moved so far by the pump. */
  readonly counters: Float64Array;
  /** Resets both sockets (RST) and ends the pump; its onEnd still follows. Idempotent. */
  abort(): void;
}

interface Addon {
  pump(clientFd: number, upstreamFd: number, counters: Float64Array, done: (errno: number, side: number) => void): unknown;
  abort(handle: unknown): void;
}

export type SpliceSupport = { available: true; path: string } | { available: false; reason: string };

const { ECANCELED } = constants.errno;
const ADDON = fileURLToPath(new URL('../../build/Release/portwake_splice.node', import.meta.url));

let loaded: { addon: Addon | undefined; support: SpliceSupport } | undefined;

function load(): { addon: Addon | undefined; support: SpliceSupport } {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') {
    loaded = { addon: undefined, support: { available: false, reason: `splice(2) is Linux only (this is ${process.platform})` } };
  } else if (!existsSync(ADDON)) {
    loaded = { addon: undefined, support: { available: false, reason: `the native addon is not built (${ADDON} is missing; install g++, make and python3, then run \`npm rebuild portwake\`, or \`npm run build:native\` in a checkout)` } };
  } else {
    try {
      const addon = createRequire(import.meta.url)(ADDON) as Addon;
      loaded = { addon, support: { available: true, path: ADDON } };
    } catch (err) {
      loaded = { addon: undefined, support: { available: false, reason: `the native addon ${ADDON} does not load: ${(err as Error).message}` } };
    }
  }
  return loaded;
}

/**
 * Whether bulk streams can be spliced here, and why not: PORTWAKE_SPLICE=off in `env` turns it off.
 * Loads the addon on first call.
 */
export function spliceSupport(env: NodeJS.ProcessEnv = process.env): SpliceSupport {
  const setting = env['PORTWAKE_SPLICE'];
  if (setting === 'off' || setting === '0') return { available: false, reason: 'PORTWAKE_SPLICE=off' };
  return load().support;
}

/**
 * Hands two connected, non-reading sockets' descriptors to the pump. The pump works on duplicates:
 * the caller destroys its own sockets right after (nothing may be queued in them). Throws (with the
 * system error) when the pump cannot be set up — out of descriptors for its pipes, say — in which
 * case nothing changed and the caller goes on in JavaScript.
 */
export function startSplice(clientFd: number, upstreamFd: number, onEnd: (end: SpliceEnd) => void): SplicePump {
  const { addon } = load();
  if (addon === undefined) throw new Error('splice is not available');
  const counters = new Float64Array(2);
  let done = false;
  const handle = addon.pump(clientFd, upstreamFd, counters, (errno, side) => {
    done = true;
    onEnd({
      ok: errno === 0,
      failed: errno === 0 || errno === ECANCELED ? undefined : side === 0 ? 'client' : 'upstream',
      error: errno === 0 ? undefined : systemError(errno),
    });
  });
  return {
    counters,
    abort: () => {
      if (!done) addon.abort(handle);
    },
  };
}

function systemError(errno: number): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `errno ${errno}`;
  }
  const err: NodeJS.ErrnoException = new Error(`splice ${code}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = 'splice';
  return err;
}

/** The socket's file descriptor, where it has one (a connected TCP or unix socket). */
export function socketFd(socket: unknown): number | undefined {
  const fd = (socket as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
