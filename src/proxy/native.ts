// The native data path: portwake's addon (src/native/) accepts connections on TCP and systemd
// listeners and forwards those of a ready service itself — connect, then recv/send through one
// shared buffer, then splice(2) once a stream turns out to be bulk — so such a connection never
// becomes a JavaScript socket. Connections that must wait for a start are wrapped into net.Sockets
// and take the JavaScript path (held.ts, connection.ts), which hands bulk streams to the same
// addon's splice pump. Who owns a client's descriptor is part of each call's result: forwardNative()
// returns an id (the addon's) or NotForwarded (still the caller's), the end report the descriptor
// it gives back; handoff.ts moves it between the JavaScript owners.
//
// The addon is built by `npm install` / `npm ci` (binding.gyp, node-gyp against Node's headers).
// Without it — no compiler, another OS, PORTWAKE_NATIVE=off — every byte goes through JavaScript;
// `nativeSupport()` says which and why.

import { closeSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { getSystemErrorName } from 'node:util';
import type { ClientFd } from './handoff.ts';
import { KEEPALIVE_INITIAL_DELAY_MS } from './sockets.ts';

/** How the native data path runs: a connection splices once it has moved spliceAfterBytes, at a read that filled its buffer. */
export interface NativePolicy {
  spliceAfterBytes: number;
}

/** The default: 1 MiB moved first (a web page and its assets never pay for two pipes). */
export const DEFAULT_NATIVE_POLICY: NativePolicy = { spliceAfterBytes: 1024 * 1024 };

export interface SpliceEnd {
  /** Both directions ended in order (FIN each way, every byte delivered). */
  ok: boolean;
  /** Which socket failed, when one did. */
  failed: 'client' | 'upstream' | undefined;
  error: NodeJS.ErrnoException | undefined;
}

export interface SplicePump {
  /** Bytes moved so far by the pump: [client→upstream, upstream→client]. */
  counts(): Float64Array;
  /** As nativeCounts() into a Float64Array(5) (with the EOF flags and pending bytes); false once the pump ended. */
  sample(out: Float64Array): boolean;
  /** Resets both sockets (RST) and ends the pump — or, `orderly`, closes them with a FIN. Its onEnd still follows. Idempotent. */
  abort(orderly?: boolean): void;
}

/**
 * How a native connection ended (src/native/conn.c): errno 0, or the failure of side 0 (client) or
 * 1 (upstream), or ECANCELED after abort; `returned`: the addon gave the client's descriptor back
 * (its upstream never connected) and the callee owns it now; undefined: the addon closed it.
 */
export interface NativeEnd {
  onNativeEnd(errno: number, side: number, returned: ClientFd | undefined, bytesIn: number, bytesOut: number, spliced: boolean): void;
  /** At most once a second while bytes move: the connection's counts so far (status and metrics read them). */
  onNativeCounts(bytesIn: number, bytesOut: number): void;
}

/** A native connection's id: a number naming its slot and the slot's generation; exact, never reused. */
export type NativeId = number & { readonly __nativeId: true };

interface Addon {
  setup(done: (id: NativeId, errno: number, side: number, returnedFd: number, bytesIn: number, bytesOut: number, spliced: boolean) => void): void;
  /** Returns: the addon owns the client. Throws ({errno, syscall}): it is still the caller's. */
  forward(clientFd: number, host: string, port: number, path: string | null, spliceAfter: number, connectTimeoutMs: number, keepAliveS: number): number;
  probe(host: string, port: number, path: string | null): number;
  pump(clientFd: number, upstreamFd: number): NativeId;
  abort(id: NativeId, handBack?: boolean, orderly?: boolean): void;
  counts(id: NativeId, out: Float64Array): void;
  changed(out: Float64Array): number;
  listen(fd: number, fds: Int32Array, keepAliveS: number, onAccept: (count: number, errno: number, refused: number) => void): unknown;
  unlisten(handle: unknown): void;
  _testNearIdWrap(uses: number): number;
  _testFailNextForward(): void;
}

export type NativeSupport = { available: true; path: string } | { available: false; reason: string };

export const { ECANCELED } = constants.errno;
/** TCP keepalive on natively accepted and connected sockets, as on the JavaScript path's. */
const KEEPALIVE_S = KEEPALIVE_INITIAL_DELAY_MS / 1000;
/** Accepts per turn of the event loop (the rest wait): saturated, 16 gave 0.91x the p99 of 64 at 1.04x its rate (docs/benchmarks.md). */
const ACCEPT_BATCH = 16;
const ADDON = fileURLToPath(new URL('../../build/Release/portwake_native.node', import.meta.url));

let loaded: { addon: Addon | undefined; support: NativeSupport } | undefined;

function load(): { addon: Addon | undefined; support: NativeSupport } {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') {
    loaded = { addon: undefined, support: { available: false, reason: `the native data path is Linux only (this is ${process.platform})` } };
  } else if (!existsSync(ADDON)) {
    loaded = { addon: undefined, support: { available: false, reason: `the native addon is not built (${ADDON} is missing; install g++, make and python3, then run \`npm rebuild -g portwake\` for a global install, \`npm rebuild portwake\` for a local one, or \`npm run build:native\` in a checkout)` } };
  } else {
    try {
      const addon = createRequire(import.meta.url)(ADDON) as Addon;
      addon.setup(onEnd);
      loaded = { addon, support: { available: true, path: ADDON } };
    } catch (err) {
      loaded = { addon: undefined, support: { available: false, reason: `the native addon ${ADDON} does not load: ${(err as Error).message}` } };
    }
  }
  return loaded;
}

/** The owner of each live native connection, told once when it ends. */
const owners = new Map<NativeId, NativeEnd>();

const COUNTS_EVERY_MS = 1000;
const changedBuffer = new Float64Array(3 * 256);
let countsTimer: NodeJS.Timeout | undefined;

/** Copies the counts of the connections that moved bytes to their owners; stops once none is left. */
function reportCounts(a: Addon): void {
  for (;;) {
    const n = a.changed(changedBuffer);
    for (let i = 0; i < n; i++) {
      owners.get(changedBuffer[i * 3] as NativeId)?.onNativeCounts(changedBuffer[i * 3 + 1] ?? 0, changedBuffer[i * 3 + 2] ?? 0);
    }
    if (n < changedBuffer.length / 3) break;
  }
  if (owners.size === 0 && countsTimer !== undefined) {
    clearInterval(countsTimer);
    countsTimer = undefined;
  }
}

function own(a: Addon, id: NativeId, owner: NativeEnd): void {
  owners.set(id, owner);
  if (countsTimer !== undefined) return;
  // Process-wide and real time: one poll of the addon's byte counts for every service's native
  // connections (a per-service clock would mean one poll each); idle logic reads the counts on its
  // own injected clock.
  countsTimer = setInterval(reportCounts, COUNTS_EVERY_MS, a);
  countsTimer.unref();
}

function onEnd(id: NativeId, errno: number, side: number, returnedFd: number, bytesIn: number, bytesOut: number, spliced: boolean): void {
  const returned = returnedFd >= 0 ? returnedFd as ClientFd : undefined;
  const owner = owners.get(id);
  if (owner === undefined) {
    // Cannot happen (forwardNative registers every id it is given); a returned client is closed.
    if (returned !== undefined) closeDescriptor(returned);
    return;
  }
  owners.delete(id);
  owner.onNativeEnd(errno, side, returned, bytesIn, bytesOut, spliced);
}

function addon(): Addon {
  const { addon: a } = load();
  if (a === undefined) throw new Error('the native data path is not available');
  return a;
}

/**
 * Whether the native data path can be used here, and why not: PORTWAKE_NATIVE=off in `env` (or
 * PORTWAKE_SPLICE=off, its earlier name) turns it off. Loads the addon on first call.
 */
export function nativeSupport(env: NodeJS.ProcessEnv = process.env): NativeSupport {
  for (const name of ['PORTWAKE_NATIVE', 'PORTWAKE_SPLICE']) {
    const setting = env[name];
    if (setting === 'off' || setting === '0') return { available: false, reason: `${name}=off` };
  }
  return load().support;
}

/** The addon is loaded (whatever PORTWAKE_NATIVE says: the caller has decided to use it). */
export function nativeLoaded(): boolean {
  return load().addon !== undefined;
}

/**
 * Hands two connected, non-reading sockets' descriptors to the splice pump. The pump works on
 * duplicates: the caller destroys its own sockets right after (nothing may be queued in them).
 * Throws (with the system error) when the pump cannot be set up — out of descriptors for its
 * duplicates, say — in which case nothing changed and the caller goes on in JavaScript. A direction
 * takes its pipe once a read fills the copy buffer (without one it goes on copying). onCounts hears
 * the bytes moved so far, at most once a second while they move.
 */
export function startSplice(clientFd: number, upstreamFd: number, onEnd: (end: SpliceEnd) => void, onCounts: (bytesIn: number, bytesOut: number) => void): SplicePump {
  const a = addon();
  const out = new Float64Array(2);
  let done = false;
  const id = a.pump(clientFd, upstreamFd);
  own(a, id, {
    onNativeCounts: onCounts,
    onNativeEnd: (errno, side, _returned, bytesIn, bytesOut) => {
      done = true;
      out[0] = bytesIn;
      out[1] = bytesOut;
      onEnd({
        ok: errno === 0,
        failed: errno === 0 || errno === ECANCELED ? undefined : side === 0 ? 'client' : 'upstream',
        error: errno === 0 ? undefined : systemError(errno, 'splice'),
      });
    },
  });
  return {
    counts: () => {
      if (!done) a.counts(id, out);
      return out;
    },
    sample: (into) => {
      if (done) return false;
      a.counts(id, into);
      return true;
    },
    abort: (orderly = false) => {
      if (!done) a.abort(id, false, orderly);
    },
  };
}

/** Where forwardNative() connects: an IP literal and port, or a Unix socket path. */
export type NativeUpstream = { host: string; port: number; path?: undefined } | { path: string; host?: undefined; port?: undefined };

/**
 * forwardNative() did not take the client: the caller still owns `client`, and `owner` hears
 * nothing. `failed`: 'connect' — the upstream refused at once, or there was no socket for it;
 * 'addon' — the addon could not take the connection (out of memory).
 */
export interface NotForwarded {
  client: ClientFd;
  failed: 'connect' | 'addon';
  error: NodeJS.ErrnoException;
}

/**
 * Starts connecting `upstream` for the accepted `client` and forwards both ways once it is
 * connected (src/native/conn.c). The result says who owns the client: a NativeId — the addon, until
 * `owner` hears of the end (onNativeEnd, which gives the client back when its upstream never
 * connected); a NotForwarded — still the caller, nothing changed.
 */
export function forwardNative(client: ClientFd, upstream: NativeUpstream, spliceAfter: number, connectTimeoutMs: number, owner: NativeEnd): NativeId | NotForwarded {
  const a = addon();
  let id: NativeId;
  try {
    id = a.forward(client, upstream.host ?? '', upstream.port ?? 0, upstream.path ?? null, spliceAfter, connectTimeoutMs, KEEPALIVE_S) as NativeId;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.syscall === 'connect' && typeof e.errno === 'number') return { client, failed: 'connect', error: systemError(e.errno, 'connect') };
    return { client, failed: 'addon', error: e instanceof Error ? e : new Error(String(err)) };
  }
  own(a, id, owner);
  return id;
}

/**
 * One readiness probe of `upstream` answered within the call where the kernel can (a Unix socket,
 * a loopback or bridge peer): 'connected' (closed again at once), a system error (refused, as a
 * rule), or 'pending' when the handshake outlasts the call (a peer that is not local) and the
 * caller has to probe the slow way.
 */
export function probeNative(upstream: NativeUpstream): 'connected' | 'pending' | NodeJS.ErrnoException {
  const result = addon().probe(upstream.host ?? '', upstream.port ?? 0, upstream.path ?? null);
  if (result < 0) return systemError(-result, 'connect');
  return result === 0 ? 'connected' : 'pending';
}

/**
 * Resets both sockets of a live native connection (`orderly`: closes them with a FIN instead, for
 * a silent connection closed when its service idles); its end follows. With `handBack`, a connection
 * whose upstream is still connecting returns the client's descriptor instead (its end reports
 * ECONNABORTED, client returned); one already connected is reset all the same.
 */
export function abortNative(id: NativeId, handBack = false, orderly = false): void {
  addon().abort(id, handBack, orderly);
}

/**
 * Tests only: the slot the next native connection takes is `uses` connections short of the point
 * where its ids would stop being exact (it is retired there). Returns that slot (an id's low 24 bits).
 */
export function nearIdWrapForTest(uses: number): number {
  return addon()._testNearIdWrap(uses);
}

/** Tests only: the next forwardNative() or startSplice() fails in the addon (ENOMEM) after its connect. */
export function failNextForwardForTest(): void {
  addon()._testFailNextForward();
}

/**
 * Bytes a native connection has delivered so far, into `out`: [client→upstream, upstream→client];
 * with a Float64Array(4), also [2] the client's and [3] the upstream's EOF seen (1) or not (0);
 * with a Float64Array(5), also [4] the upstream's bytes read but not yet delivered to the client.
 */
export function nativeCounts(id: NativeId, out: Float64Array): void {
  addon().counts(id, out);
}

/**
 * Accepts on (a duplicate of) the listening descriptor `fd` in native code: onAccept gets each new
 * connection's descriptor and owns it; onError an accept failure, with how many waiting
 * connections were reset because the process is out of descriptors. Returns the closer. onAccept
 * must not throw: a throw is an uncaught exception (as from a 'connection' listener), and the
 * descriptors of its batch not handed over yet are closed.
 */
export function listenNative(fd: number, onAccept: (client: ClientFd) => void, onError: (err: NodeJS.ErrnoException, refused: number) => void): () => void {
  const a = addon();
  const fds = new Int32Array(ACCEPT_BATCH);
  let open = true;
  const handle = a.listen(fd, fds, KEEPALIVE_S, (count, errno, refused) => {
    // A descriptor is onAccept's once its entry is -1; the addon closes the others when this
    // returns — after a throw (which it raises as an uncaught exception) or a close mid-batch.
    for (let i = 0; i < count && open; i++) {
      const accepted = (fds[i] ?? -1) as ClientFd;
      fds[i] = -1;
      onAccept(accepted);
    }
    if (errno !== 0 && open) onError(systemError(errno, 'accept'), refused);
  });
  return () => {
    if (!open) return;
    open = false;
    a.unlisten(handle);
  };
}

/**
 * Closes a natively accepted descriptor nothing else owns (an orderly close: the peer sees a FIN,
 * as from a destroyed socket). Never throws: there is nothing left to undo if close(2) fails.
 */
export function closeDescriptor(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    // EBADF/EIO: the descriptor is gone either way.
  }
}

/** A JavaScript socket for a descriptor accepted natively: paused, half-open allowed. */
export function adoptSocket(fd: number): net.Socket {
  // pauseOnCreate is what net.Server's pauseOnConnect uses: the socket does not read until resumed.
  return new net.Socket({ fd, readable: true, writable: true, allowHalfOpen: true, pauseOnCreate: true } as net.SocketConstructorOpts);
}

export function systemError(errno: number, syscall: string): NodeJS.ErrnoException {
  let code: string;
  try {
    code = getSystemErrorName(-errno);
  } catch {
    code = `errno ${errno}`;
  }
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${code}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  return err;
}

/** The socket's file descriptor, where it has one (a connected TCP or unix socket). */
export function socketFd(socket: unknown): number | undefined {
  const fd = (socket as { _handle?: { fd?: unknown } | null })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}
