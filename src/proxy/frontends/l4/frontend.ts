// The proxy side of one service: its listening sockets, the connections they accept (held while
// the service starts, then forwarded), the connection limits, and a graceful shutdown.

import type { Socket } from 'node:net';
import type { Backend, Lease, RefusalReason } from '../../../core/backend.ts';
import { systemClock, type Clock, type TimerHandle } from '../../../core/clock.ts';
import { describe, PortwakeError } from '../../../core/errors.ts';
import { debugEnabled, type Logger } from '../../../core/logger.ts';
import { Connection, describeEnd, type ConnectionEnd, type Unconnected, isFdLimit } from '../../pipe/connection.ts';
import { HalfCloseSweep } from '../../pipe/half-close.ts';
import { DEFAULT_HOLD_BUFFER_BYTES, HeldConnection, HoldBudget } from './held.ts';
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HOLD_TIMEOUT_MS, DEFAULT_MAX_HELD_BYTES, type FrontendOptions } from './options.ts';
import type { BoundListener, ListenTarget } from '../../accept/listen.ts';
import { ListenerSet } from '../../accept/listener-set.ts';
import { LogLimit } from '../../log-limit.ts';
import { systemErrorText } from '../../sockets.ts';
import { adoptClient, closeClient, Handoff, type ClientFd, type EarlyData } from '../../handoff.ts';
import { NativeConnection, nativeUpstream } from '../../pipe/native-connection.ts';
import type { ProxyProtocolVersion } from '../../proxy-protocol.ts';
import { withPort, withProxyHeader, withoutProxyHeader } from './route.ts';

export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HOLD_TIMEOUT_MS, DEFAULT_MAX_HELD_BYTES, type ConnectionEvent, type FrontendOptions } from './options.ts';

const LOG_INTERVAL_MS = 10_000;

/** A forwarded connection of either path. */
type Forwarded = Connection | NativeConnection;

type State =
  | { kind: 'new' }
  | { kind: 'binding' }
  | { kind: 'listening' }
  | { kind: 'closing'; done: Promise<void>; allGone: () => void; graceTimer: TimerHandle | undefined }
  | { kind: 'closed' };

/**
 * Owns a service's listeners and every connection they accept. On accept: refuse over the limits,
 * forward at once when the backend has a lease ready, else hold the client (keeping its early
 * bytes) until Backend.acquire() settles — forward on a lease, close the client on a failure.
 * Nothing here throws into the event loop: every socket failure ends in that connection's close.
 */
export class Frontend {
  readonly #backend: Backend;
  readonly #options: FrontendOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #holdBufferBytes: number;
  readonly #connectTimeoutMs: number;
  readonly #listeners: ListenerSet;
  readonly #open = new Set<Forwarded>();
  /** Each held connection and its hold deadline. */
  readonly #held = new Map<HeldConnection, TimerHandle>();
  readonly #holdBudget: HoldBudget;
  #holdTimeoutMs: number;
  readonly #holdTimeouts: LogLimit;
  readonly #halfCloseTimeouts: LogLimit;
  /** Forwarded connections whose client half-closed and whose upstream has not finished. */
  #halfClosed = 0;
  readonly #halfClose: { timeoutMs: number; count: (delta: number) => void } | undefined;
  /** The same bound for connections forwarded natively from the first byte. */
  readonly #halfCloseSweep: HalfCloseSweep | undefined;
  /**
   * Natively accepted descriptors that will be held, their sockets made in this turn's check phase
   * (the service's start request goes out first). They count as held, so close() does not finish
   * without them; it reaches held connections only after awaiting its listeners, by which time
   * these are held connections like the rest.
   */
  readonly #adopting = new Set<ClientFd>();
  readonly #acceptErrors: LogLimit;
  readonly #upstreamErrors: LogLimit;
  readonly #fdLimitErrors: LogLimit;
  /** Debug lines are written: the per-connection one is not even built otherwise. */
  readonly #debug: boolean;
  #state: State = { kind: 'new' };

  constructor(options: FrontendOptions) {
    this.#options = options;
    this.#backend = options.backend;
    this.#logger = options.logger.child({ service: options.backend.name });
    this.#debug = debugEnabled(this.#logger);
    this.#clock = options.clock ?? systemClock;
    this.#holdBufferBytes = options.holdBufferBytes ?? DEFAULT_HOLD_BUFFER_BYTES;
    this.#holdBudget = new HoldBudget(options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES);
    this.#holdTimeoutMs = options.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS;
    this.#holdTimeouts = new LogLimit(this.#clock, LOG_INTERVAL_MS);
    this.#halfCloseTimeouts = new LogLimit(this.#clock, LOG_INTERVAL_MS);
    this.#halfClose = options.halfCloseTimeoutMs === undefined ? undefined : {
      timeoutMs: options.halfCloseTimeoutMs,
      count: (delta) => {
        this.#halfClosed += delta;
      },
    };
    this.#halfCloseSweep = this.#halfClose === undefined || options.native === undefined ? undefined
      : new HalfCloseSweep(this.#clock, this.#halfClose.timeoutMs, this.#halfClose.count, () => this.#nativeOpen());
    // Whole milliseconds, at least one: native code takes an integer deadline.
    this.#connectTimeoutMs = Math.max(1, Math.round(options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS));
    this.#acceptErrors = new LogLimit(this.#clock, LOG_INTERVAL_MS);
    this.#upstreamErrors = new LogLimit(this.#clock, LOG_INTERVAL_MS);
    this.#fdLimitErrors = new LogLimit(this.#clock, LOG_INTERVAL_MS);
    this.#listeners = new ListenerSet((text) => ({
      service: this.#backend.name,
      ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
      onConnection: this.#onAccept,
      onDescriptor: options.native === undefined ? undefined : this.#onAcceptFd,
      onError: (err, refused) => this.#onAcceptError(text, err, refused),
    }));
  }

  /** The bound listeners: their texts, addresses and servers; bind(), detach() and adopt() for a reload. */
  get listening(): ListenerSet {
    return this.#listeners;
  }

  /** The configured text of every bound listener. */
  get listeners(): string[] {
    return this.#listeners.texts;
  }

  /**
   * Binds every listen target; connections are accepted as soon as each one is bound. If one fails,
   * the frontend is closed (grace 0) and the PortwakeError('LISTEN_FAILED') is thrown. Call once.
   */
  async listen(): Promise<void> {
    if (this.#state.kind !== 'new') throw new Error(`frontend for "${this.#backend.name}" is ${this.#state.kind}, cannot listen`);
    this.#state = { kind: 'binding' };
    try {
      await this.#listeners.bindEach(this.#options.listen, () => this.#state.kind === 'binding');
    } catch (err) {
      // Connections the first listeners accepted meanwhile go too (unless close() was called meanwhile).
      if (this.#state.kind === 'binding') await this.close({ graceMs: 0 });
      throw err;
    }
    this.#state = { kind: 'listening' };
  }

  /** Binds more addresses while listening (a reload adding them); see ListenerSet.bind. */
  async bind(targets: readonly ListenTarget[]): Promise<BoundListener[]> {
    if (this.#state.kind !== 'listening') throw new Error(`frontend for "${this.#backend.name}" is ${this.#state.kind}, cannot bind more`);
    return this.#listeners.bind(targets);
  }

  /** Forwarded connections still open (including ones whose sockets are being torn down). */
  get open(): number {
    return this.#open.size;
  }

  /** Connections waiting for the service to become ready. */
  get held(): number {
    return this.#held.size + this.#adopting.size;
  }

  /** Early bytes the held connections keep in memory, all together. */
  get heldBytes(): number {
    return this.#holdBudget.used;
  }

  /** Of the open connections, those whose client half-closed while the upstream has not finished. */
  get halfClosed(): number {
    return this.#halfClosed;
  }




  // ---- a reload changes a running frontend in place ----

  /**
   * New limits and timeouts (a reload): connections already admitted stay. holdTimeout applies to
   * connections held from now on, maxHeldBytes as held bytes come and go, a new halfCloseTimeout to
   * the next check of each connection. Turning halfCloseTimeout on or off needs a restart (said).
   */
  setLimits(limits: { maxConnections: number; maxPending: number; holdTimeoutMs: number; maxHeldBytes: number; halfCloseTimeoutMs: number | undefined; wakeFiltered?: boolean; proxyProtocol?: ProxyProtocolVersion | undefined }): void {
    this.#options.maxConnections = limits.maxConnections;
    this.#options.wakeFiltered = limits.wakeFiltered === true;
    this.#options.proxyProtocol = limits.proxyProtocol;
    this.#options.maxPending = limits.maxPending;
    this.#holdTimeoutMs = limits.holdTimeoutMs;
    this.#holdBudget.limit = limits.maxHeldBytes;
    const halfClose = this.#halfClose;
    if (halfClose !== undefined && limits.halfCloseTimeoutMs !== undefined) {
      halfClose.timeoutMs = limits.halfCloseTimeoutMs;
      this.#halfCloseSweep?.retime(limits.halfCloseTimeoutMs);
    } else if ((halfClose === undefined) !== (limits.halfCloseTimeoutMs === undefined)) {
      this.#logger.warn({}, `service "${this.#backend.name}": reload: turning halfCloseTimeout on or off takes effect when portwake restarts, ignoring`);
    }
  }



  /**
   * Shuts down: stops accepting (closing the listeners and removing the socket files they created),
   * closes held connections at once — or, with `held: 'serve'` (a reload retiring the service), lets
   * them be forwarded when their start completes — lets open connections finish for up to graceMs,
   * then resets the rest (and closes any still held). Resolves when every connection is gone.
   * Idempotent: later calls share the first one.
   */
  close(options: { graceMs: number; held?: 'close' | 'serve' }): Promise<void> {
    const state = this.#state;
    if (state.kind === 'closing') return state.done;
    if (state.kind === 'closed') return Promise.resolve();

    let allGone!: () => void;
    const gone = new Promise<void>((resolve) => {
      allGone = resolve;
    });
    const closing: State & { kind: 'closing' } = { kind: 'closing', done: Promise.resolve(), allGone, graceTimer: undefined };
    this.#state = closing;
    closing.done = (async () => {
      await this.#listeners.closeAll();
      if (options.held !== 'serve') this.#closeHeld();
      if (this.#open.size + this.held > 0) {
        const n = this.#open.size + this.held;
        this.#logger.info({ open: this.#open.size, held: this.held, graceMs: options.graceMs }, `service "${this.#backend.name}": waiting up to ${options.graceMs}ms for ${n} connection(s)`);
        closing.graceTimer = this.#clock.setTimer(options.graceMs, () => {
          const left = this.#open.size + this.held;
          if (left > 0) this.#logger.warn({ open: this.#open.size, held: this.held, graceMs: options.graceMs }, `service "${this.#backend.name}": ${left} connection(s) still open after the ${options.graceMs}ms grace period, closing them`);
          this.#closeHeld();
          for (const connection of [...this.#open]) connection.close('shutdown');
        });
      }
      this.#checkAllGone();
      await gone;
      closing.graceTimer?.cancel();
      this.#halfCloseSweep?.stop();
      this.#state = { kind: 'closed' };
    })();
    return closing.done;
  }

  #closeHeld(): void {
    for (const held of [...this.#held.keys()]) {
      held.close('shutting down');
      this.#backend.refused('shutting_down');
    }
  }

  /**
   * A connection another frontend accepted and routed here (the TLS router, by server name): the
   * socket, paused, with the bytes read from it so far, forwarded to `port` of the service's
   * upstream (undefined: its own port). From here on it is this frontend's like its own: limits,
   * the wake filter, held while the service starts, forwarded, closed at shutdown.
   */
  admit(socket: Socket, early: EarlyData, port: number | undefined): void {
    const admitted = this.#admit();
    if (admitted === 'hold') this.#holdIfMayWake(socket, early, port);
    else if (typeof admitted === 'string') this.#refuse(socket, admitted);
    else this.#forward(Handoff.toConnection(socket, early), admitted, true, port);
  }

  #onAccept = (socket: Socket): void => {
    const admitted = this.#admit();
    if (admitted === 'hold') this.#holdIfMayWake(socket);
    else if (typeof admitted === 'string') this.#refuse(socket, admitted);
    else this.#forward(Handoff.toConnection(socket), admitted);
  };

  /** A connection the native listener accepted: as #onAccept, without a JavaScript socket unless it is held. */
  #onAcceptFd = (fd: ClientFd): void => {
    const admitted = this.#admit();
    if (admitted === 'hold') this.#holdFd(fd);
    else if (typeof admitted === 'string') this.#refuseFd(fd, admitted);
    else this.#forwardFd(fd, admitted);
  };

  /**
   * A natively accepted connection that must wait: the start is asked for first, and the socket
   * is made in this turn's check phase (setImmediate — event-loop order, not time, hence not the
   * injected clock), so the start request does not wait for it
   * (accept → start request 0.7 → 0.48 ms). The kernel keeps the client's bytes meanwhile.
   */
  #holdFd(fd: ClientFd): void {
    if (this.#options.wakeFiltered !== true) this.#backend.prepare();
    this.#adopting.add(fd);
    if (this.#adopting.size === 1) setImmediate(this.#adoptWaiting);
  }

  #adoptWaiting = (): void => {
    const fds = [...this.#adopting];
    this.#adopting.clear();
    let owned = 0;
    try {
      for (const fd of fds) {
        const socket = adoptClient(fd);
        owned++; // the socket owns the descriptor from here on
        try {
          this.#holdIfMayWake(socket);
        } catch (err) {
          socket.destroy();
          throw err;
        }
      }
    } finally {
      // A throw (a bug) leaves the rest of the batch with no owner: closed here, then it goes on up.
      for (const fd of fds.slice(owned)) closeClient(fd);
    }
  };

  /**
   * What happens to a connection just accepted: refused (shutting down, or over a limit), forwarded
   * at once with a lease when the service is ready, or held until it is.
   */
  #admit(): Lease | RefusalReason | 'hold' {
    const kind = this.#state.kind;
    if (kind === 'closing' || kind === 'closed') return 'shutting_down';
    if (this.#open.size + this.held >= this.#options.maxConnections) return 'max_connections';
    const lease = this.#backend.tryAcquire();
    if (lease !== undefined) return lease;
    return this.held >= this.#options.maxPending ? 'max_pending' : 'hold';
  }

  #refuse(socket: Socket, reason: RefusalReason): void {
    socket.destroy();
    this.#backend.refused(reason);
  }

  /** As #refuse, for a descriptor no socket was made for. */
  #refuseFd(fd: ClientFd, reason: RefusalReason): void {
    closeClient(fd);
    this.#backend.refused(reason);
  }

  /**
   * A new connection the service is not ready for: held, unless the service is stopped and its
   * wake filter refuses the client's address — then closed at once, starting nothing.
   */
  #holdIfMayWake(socket: Socket, early?: EarlyData, port?: number): void {
    if (!this.#backend.mayWake({ source: socket.remoteAddress ?? '' })) {
      this.#refuse(socket, 'wake_refused');
      return;
    }
    this.#hold(Handoff.toHeld(socket, early), true, undefined, port);
  }

  /** Holds the client until a lease arrives (after `first`, when given); `retry`: see #retry. */
  #hold(client: Handoff<'held'>, retry = true, first?: Promise<void>, port?: number): void {
    const held = new HeldConnection(client, this.#holdBufferBytes, this.#onHeldGone, this.#holdBudget);
    this.#held.set(held, this.#clock.setTimer(this.#holdTimeoutMs, () => this.#holdExpired(held)));
    this.#backend.setHeld(+1);
    void this.#acquireFor(held, retry, first, port);
  }

  /**
   * The leased upstream refused the connection before any byte went through: the app may have died
   * since it was ready. Let the service re-inspect (and start it again if it is gone), holding the
   * client meanwhile — once; a second refusal closes the client.
   */
  #retry = (u: Unconnected): void => {
    if (this.#state.kind === 'closing' || this.#state.kind === 'closed') {
      u.client.take().socket.destroy();
      return;
    }
    // A PROXY header sent on the first try goes again on the next: taken off the early bytes here.
    const client = u.client.take();
    this.#hold(Handoff.toHeld(client.socket, withoutProxyHeader(client.early)), false, this.#backend.upstreamFailed(u.upstream, u.error));
  };

  /** Waits for the service on behalf of a held connection (also while closing); never rejects. */
  async #acquireFor(held: HeldConnection, retry: boolean, first: Promise<void> | undefined, port: number | undefined): Promise<void> {
    let lease: Lease;
    try {
      if (first !== undefined) await first;
      lease = await this.#backend.acquire(held.signal);
    } catch (err) {
      if (!held.holding) return; // the client went away (or shutdown closed it) first
      this.#logger.debug({ err: describe(err) }, `service "${this.#backend.name}": closing a held connection: ${describe(err)}`);
      held.close('start failed', true);
      this.#backend.refused(err instanceof PortwakeError && err.code === 'START_LIMITED' ? 'backing_off' : 'start_failed');
      return;
    }
    if (!held.holding) {
      lease.release();
      return;
    }
    // Forward first: while closing, an empty moment between held and open would end close() early.
    this.#forward(held.handOver(), lease, retry, port);
    this.#releaseHeld(held);
  }

  #onHeldGone = (held: HeldConnection): void => {
    this.#releaseHeld(held);
  };

  /** holdTimeout passed and the service is still not ready for this connection: it is closed. */
  #holdExpired(held: HeldConnection): void {
    if (!held.holding) return;
    const suppressed = this.#holdTimeouts.take();
    if (suppressed !== undefined) {
      this.#logger.warn({ holdTimeoutMs: this.#holdTimeoutMs, suppressed }, `service "${this.#backend.name}": a connection waited ${this.#holdTimeoutMs}ms (holdTimeout) for the service to become ready, closing it${suppressedSuffix(suppressed)}`);
    }
    held.close('hold timeout');
    this.#backend.refused('hold_timeout');
  }

  #releaseHeld(held: HeldConnection): void {
    const timer = this.#held.get(held);
    if (timer === undefined) return;
    timer.cancel();
    this.#held.delete(held);
    this.#backend.setHeld(-1);
    this.#checkAllGone();
  }

  /** A natively accepted client with its lease: forwarded natively, where the upstream allows. */
  #forwardFd(fd: ClientFd, lease: Lease): void {
    const policy = this.#options.native;
    const upstream = nativeUpstream(lease);
    // A PROXY header goes first as an early byte, which the JavaScript connection sends (and then hands to the splice pump).
    if (policy === undefined || upstream === undefined || this.#options.proxyProtocol !== undefined) {
      this.#forward(Handoff.toConnection(adoptClient(fd)), lease);
      return;
    }
    const connection = new NativeConnection({
      client: Handoff.toNative(fd),
      lease,
      clock: this.#clock,
      connectTimeoutMs: this.#connectTimeoutMs,
      spliceAfterBytes: policy.spliceAfterBytes,
      onClosed: this.#onConnectionClosed,
      onUnconnected: this.#retry,
    }, upstream);
    this.#open.add(connection);
    this.#halfCloseSweep?.ensure();
    this.#options.onConnection?.({ change: 'open', upstream: connection.upstream });
  }

  /** What the half-close sweep samples: every open connection (a JavaScript one only while spliced). */
  *#nativeOpen(): Generator<Forwarded> {
    yield* this.#open;
  }

  /** `port`: another port of the service's upstream (a routed connection; see admit()). */
  #forward(client: Handoff<'connection'>, lease: Lease, retry = true, port?: number): void {
    const routed = withPort(lease, port);
    const version = this.#options.proxyProtocol;
    let next = client;
    if (version !== undefined) {
      // The PROXY header goes in front of the client's early bytes: the client is handed on with them.
      const { socket, early } = client.take();
      next = Handoff.toConnection(socket, withProxyHeader(socket, early, version));
    }
    const connection = new Connection({
      client: next,
      lease: routed,
      clock: this.#clock,
      connectTimeoutMs: this.#connectTimeoutMs,
      onClosed: this.#onConnectionClosed,
      // On another port than the service's own, a refused connect is not retried: upstreamFailed would not know that upstream.
      onUnconnected: retry && routed === lease ? this.#retry : undefined,
      native: this.#options.native,
      halfClose: this.#halfClose,
    });
    this.#open.add(connection);
    this.#halfCloseSweep?.ensure();
    this.#options.onConnection?.({ change: 'open', upstream: connection.upstream });
  }

  #onConnectionClosed = (connection: Forwarded, end: ConnectionEnd): void => {
    this.#open.delete(connection);
    this.#halfCloseSweep?.forget(connection);
    if (end.handedBack) {
      this.#logger.debug({ upstream: connection.upstream }, `service "${this.#backend.name}": ${describeEnd(connection, end)}; holding the client while the service re-checks its container`);
    } else if (end.reason === 'upstream_unreachable') {
      const fdLimit = isFdLimit(end.error);
      // Out of descriptors for the upstream socket: the client is refused for the same reason
      // as one accept() could not take.
      if (fdLimit) this.#backend.refused('fd_limit');
      const suppressed = (fdLimit ? this.#fdLimitErrors : this.#upstreamErrors).take();
      if (suppressed !== undefined) {
        this.#logger.warn({ upstream: connection.upstream, suppressed }, `service "${this.#backend.name}": ${describeEnd(connection, end)}, closing the client connection${fdLimit ? FD_LIMIT_HINT : ''}${suppressedSuffix(suppressed)}`);
      }
    } else if (end.reason === 'half_closed_timeout') {
      const suppressed = this.#halfCloseTimeouts.take();
      if (suppressed !== undefined) {
        this.#logger.warn({ upstream: connection.upstream, halfCloseTimeoutMs: this.#halfClose?.timeoutMs, suppressed }, `service "${this.#backend.name}": ${describeEnd(connection, end)} for ${this.#halfClose?.timeoutMs}ms (halfCloseTimeout), resetting the connection${suppressedSuffix(suppressed)}`);
      }
    } else if (this.#debug) {
      this.#logger.debug({ reason: end.reason, bytesIn: end.bytesIn, bytesOut: end.bytesOut, durationMs: end.durationMs }, `service "${this.#backend.name}": connection closed: ${describeEnd(connection, end)}`);
    }
    this.#options.onConnection?.({ change: 'close', upstream: connection.upstream, end });
    this.#checkAllGone();
  };

  /**
   * Errors from accept(): a full fd table is a refusal, anything else is logged; never fatal.
   * libuv mostly hides EMFILE on accept (it closes the pending connections using a reserved fd and
   * reports nothing); this runs only when that fails. The visible symptom is usually the upstream
   * connect failing with EMFILE, which #onConnectionClosed counts the same way.
   */
  #onAcceptError(listener: string, err: Error, refused: number): void {
    const fdLimit = isFdLimit(err);
    if (fdLimit) for (let i = 0; i < Math.max(1, refused); i++) this.#backend.refused('fd_limit');
    const suppressed = (fdLimit ? this.#fdLimitErrors : this.#acceptErrors).take();
    if (suppressed === undefined) return;
    const msg = `service "${this.#backend.name}": cannot accept a connection on ${listener}: ${systemErrorText(err)}, ignoring${fdLimit ? FD_LIMIT_HINT : ''}${suppressedSuffix(suppressed)}`;
    if (fdLimit) this.#logger.warn({ listener, suppressed }, msg);
    else this.#logger.error({ listener, suppressed }, msg);
  }


  #checkAllGone(): void {
    const state = this.#state;
    if (state.kind === 'closing' && this.#open.size === 0 && this.held === 0) state.allGone();
  }
}

const FD_LIMIT_HINT = ' (raise LimitNOFILE= or ulimit -n)';


function suppressedSuffix(suppressed: number): string {
  return suppressed > 0 ? ` (${suppressed} similar suppressed)` : '';
}
