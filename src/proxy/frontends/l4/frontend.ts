// The proxy side of one service: its listening sockets, what happens to each connection they
// accept (admission: refused over the limits, forwarded with a lease, or held), and a graceful
// shutdown. Holding is holding.ts's, forwarding forwarding.ts's, the warnings reports.ts's.

import type { Socket } from 'node:net';
import type { Backend, Lease, RefusalReason } from '../../../core/backend.ts';
import { systemClock, type Clock, type TimerHandle } from '../../../core/clock.ts';
import type { Logger } from '../../../core/logger.ts';
import type { BoundListener, ListenTarget } from '../../accept/listen.ts';
import { ListenerSet } from '../../accept/listener-set.ts';
import { closeClient, Handoff, type ClientFd, type EarlyData } from '../../handoff.ts';
import type { ProxyProtocolVersion } from '../../proxy-protocol.ts';
import { Forwarding } from './forwarding.ts';
import { DEFAULT_HOLD_BUFFER_BYTES } from './held.ts';
import { Holding } from './holding.ts';
import { DEFAULT_HOLD_TIMEOUT_MS, DEFAULT_MAX_HELD_BYTES, type FrontendOptions } from './options.ts';
import { FrontendReports } from './reports.ts';

export { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HOLD_TIMEOUT_MS, DEFAULT_MAX_HELD_BYTES, type ConnectionEvent, type FrontendOptions } from './options.ts';

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
  readonly #listeners: ListenerSet;
  readonly #reports: FrontendReports;
  readonly #holding: Holding;
  readonly #forwarding: Forwarding;
  #state: State = { kind: 'new' };

  constructor(options: FrontendOptions) {
    this.#options = options;
    this.#backend = options.backend;
    this.#logger = options.logger.child({ service: options.backend.name });
    this.#clock = options.clock ?? systemClock;
    this.#reports = new FrontendReports(this.#backend, this.#logger, this.#clock);
    const closing = (): boolean => this.#state.kind === 'closing' || this.#state.kind === 'closed';
    this.#holding = new Holding({
      backend: this.#backend,
      clock: this.#clock,
      logger: this.#logger,
      reports: this.#reports,
      holdBufferBytes: options.holdBufferBytes ?? DEFAULT_HOLD_BUFFER_BYTES,
      maxHeldBytes: options.maxHeldBytes ?? DEFAULT_MAX_HELD_BYTES,
      holdTimeoutMs: options.holdTimeoutMs ?? DEFAULT_HOLD_TIMEOUT_MS,
      wakeFiltered: () => this.#options.wakeFiltered === true,
      closing,
      forward: (client, lease, retry, port) => this.#forwarding.forward(client, lease, retry, port),
      refuse: (socket, reason) => this.#refuse(socket, reason),
      released: () => this.#checkAllGone(),
    });
    this.#forwarding = new Forwarding({ options, clock: this.#clock, reports: this.#reports, retry: this.#holding.retry, closed: () => this.#checkAllGone() });
    this.#listeners = new ListenerSet((text) => ({
      service: this.#backend.name,
      ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
      onConnection: this.#onAccept,
      onDescriptor: options.native === undefined ? undefined : this.#onAcceptFd,
      onError: (err, refused) => this.#reports.acceptError(text, err, refused),
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
    return this.#forwarding.count;
  }

  /** Connections waiting for the service to become ready. */
  get held(): number {
    return this.#holding.count;
  }

  /** Early bytes the held connections keep in memory, all together. */
  get heldBytes(): number {
    return this.#holding.bytes;
  }

  /** Of the open connections, those whose client half-closed while the upstream has not finished. */
  get halfClosed(): number {
    return this.#forwarding.halfClosed;
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
    this.#holding.setLimits(limits.holdTimeoutMs, limits.maxHeldBytes);
    if (!this.#forwarding.setHalfCloseTimeout(limits.halfCloseTimeoutMs)) {
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
      if (options.held !== 'serve') this.#holding.closeAll();
      if (this.open + this.held > 0) {
        const n = this.open + this.held;
        this.#logger.info({ open: this.open, held: this.held, graceMs: options.graceMs }, `service "${this.#backend.name}": waiting up to ${options.graceMs}ms for ${n} connection(s)`);
        closing.graceTimer = this.#clock.setTimer(options.graceMs, () => {
          const left = this.open + this.held;
          if (left > 0) this.#logger.warn({ open: this.open, held: this.held, graceMs: options.graceMs }, `service "${this.#backend.name}": ${left} connection(s) still open after the ${options.graceMs}ms grace period, closing them`);
          this.#holding.closeAll();
          this.#forwarding.closeAll();
        });
      }
      this.#checkAllGone();
      await gone;
      closing.graceTimer?.cancel();
      this.#forwarding.stop();
      this.#state = { kind: 'closed' };
    })();
    return closing.done;
  }

  #checkAllGone(): void {
    const state = this.#state;
    if (state.kind === 'closing' && this.open === 0 && this.held === 0) state.allGone();
  }

  // ---- admission ----

  /**
   * A connection another frontend accepted and routed here (the TLS router, by server name): the
   * socket, paused, with the bytes read from it so far, forwarded to `port` of the service's
   * upstream (undefined: its own port). From here on it is this frontend's like its own: limits,
   * the wake filter, held while the service starts, forwarded, closed at shutdown.
   */
  admit(socket: Socket, early: EarlyData, port: number | undefined): void {
    const admitted = this.#admit();
    if (admitted === 'hold') this.#holding.holdIfMayWake(socket, early, port);
    else if (typeof admitted === 'string') this.#refuse(socket, admitted);
    else this.#forwarding.forward(Handoff.toConnection(socket, early), admitted, true, port);
  }

  #onAccept = (socket: Socket): void => {
    const admitted = this.#admit();
    if (admitted === 'hold') this.#holding.holdIfMayWake(socket);
    else if (typeof admitted === 'string') this.#refuse(socket, admitted);
    else this.#forwarding.forward(Handoff.toConnection(socket), admitted);
  };

  /** A connection the native listener accepted: as #onAccept, without a JavaScript socket unless it is held. */
  #onAcceptFd = (fd: ClientFd): void => {
    const admitted = this.#admit();
    if (admitted === 'hold') this.#holding.holdFd(fd);
    else if (typeof admitted === 'string') this.#refuseFd(fd, admitted);
    else this.#forwarding.forwardFd(fd, admitted);
  };

  /**
   * What happens to a connection just accepted: refused (shutting down, or over a limit), forwarded
   * at once with a lease when the service is ready, or held until it is.
   */
  #admit(): Lease | RefusalReason | 'hold' {
    const kind = this.#state.kind;
    if (kind === 'closing' || kind === 'closed') return 'shutting_down';
    if (this.open + this.held >= this.#options.maxConnections) return 'max_connections';
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
}
