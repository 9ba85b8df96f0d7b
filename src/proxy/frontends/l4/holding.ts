// Where a connection waits: the L4 frontend's held connections, from the moment one is found not
// ready to be forwarded until Backend.acquire() settles — with its holdTimeout, the early-bytes
// budget, the wake filter's say, natively accepted descriptors adopted in the check phase, and
// the one retry of a client the upstream refused. Hands a leased client to `forward`.

import type { Socket } from 'node:net';
import type { Backend, Lease, RefusalReason } from '../../../core/backend.ts';
import type { Clock, TimerHandle } from '../../../core/clock.ts';
import { describe, PortwakeError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/logger.ts';
import { adoptClient, closeClient, Handoff, type ClientFd, type EarlyData } from '../../handoff.ts';
import type { Unconnected } from '../../pipe/connection.ts';
import { HeldConnection, HoldBudget } from './held.ts';
import type { FrontendReports } from './reports.ts';
import { withoutProxyHeader } from './route.ts';

export interface HoldingOptions {
  backend: Backend;
  clock: Clock;
  logger: Logger;
  reports: FrontendReports;
  holdBufferBytes: number;
  maxHeldBytes: number;
  holdTimeoutMs: number;
  /** Whether the service has a wake filter (read at each natively accepted connection: a reload changes it). */
  wakeFiltered: () => boolean;
  /** Whether the frontend is closing: a client handed back for a retry is closed then. */
  closing: () => boolean;
  /** A held client got its lease: forward it (`retry`: a refused connect may come back once). */
  forward: (client: Handoff<'connection'>, lease: Lease, retry: boolean, port: number | undefined) => void;
  /** Closes a client that may not wake the service, counting the refusal. */
  refuse: (socket: Socket, reason: RefusalReason) => void;
  /** A held connection is gone (forwarded, closed or expired). */
  released: () => void;
}

export class Holding {
  readonly #o: HoldingOptions;
  /** Each held connection and its hold deadline. */
  readonly #held = new Map<HeldConnection, TimerHandle>();
  readonly #budget: HoldBudget;
  #holdTimeoutMs: number;
  /**
   * Natively accepted descriptors that will be held, their sockets made in this turn's check phase
   * (the service's start request goes out first). They count as held, so close() does not finish
   * without them; it reaches held connections only after awaiting its listeners, by which time
   * these are held connections like the rest.
   */
  readonly #adopting = new Set<ClientFd>();

  constructor(options: HoldingOptions) {
    this.#o = options;
    this.#budget = new HoldBudget(options.maxHeldBytes);
    this.#holdTimeoutMs = options.holdTimeoutMs;
  }

  /** Connections waiting for the service to become ready. */
  get count(): number {
    return this.#held.size + this.#adopting.size;
  }

  /** Early bytes the held connections keep in memory, all together. */
  get bytes(): number {
    return this.#budget.used;
  }

  /** A reload's limits: holdTimeout for connections held from now on, maxHeldBytes as held bytes come and go. */
  setLimits(holdTimeoutMs: number, maxHeldBytes: number): void {
    this.#holdTimeoutMs = holdTimeoutMs;
    this.#budget.limit = maxHeldBytes;
  }

  /** Closes every held connection (shutting down), counting each as refused. */
  closeAll(): void {
    for (const held of [...this.#held.keys()]) {
      held.close('shutting down');
      this.#o.backend.refused('shutting_down');
    }
  }

  /**
   * A natively accepted connection that must wait: the start is asked for first, and the socket
   * is made in this turn's check phase (setImmediate — event-loop order, not time, hence not the
   * injected clock), so the start request does not wait for it
   * (accept → start request 0.7 → 0.48 ms). The kernel keeps the client's bytes meanwhile.
   */
  holdFd(fd: ClientFd): void {
    if (!this.#o.wakeFiltered()) this.#o.backend.prepare();
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
          this.holdIfMayWake(socket);
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
   * A new connection the service is not ready for: held, unless the service is stopped and its
   * wake filter refuses the client's address — then closed at once, starting nothing.
   */
  holdIfMayWake(socket: Socket, early?: EarlyData, port?: number): void {
    if (!this.#o.backend.mayWake({ source: socket.remoteAddress ?? '' })) {
      this.#o.refuse(socket, 'wake_refused');
      return;
    }
    this.#hold(Handoff.toHeld(socket, early), true, undefined, port);
  }

  /**
   * The leased upstream refused the connection before any byte went through: the app may have died
   * since it was ready. Let the service re-inspect (and start it again if it is gone), holding the
   * client meanwhile — once; a second refusal closes the client.
   */
  retry = (u: Unconnected): void => {
    if (this.#o.closing()) {
      u.client.take().socket.destroy();
      return;
    }
    // A PROXY header sent on the first try goes again on the next: taken off the early bytes here.
    const client = u.client.take();
    this.#hold(Handoff.toHeld(client.socket, withoutProxyHeader(client.early)), false, this.#o.backend.upstreamFailed(u.upstream, u.error));
  };

  /** Holds the client until a lease arrives (after `first`, when given); `retry`: see retry. */
  #hold(client: Handoff<'held'>, retry: boolean, first?: Promise<void>, port?: number): void {
    const held = new HeldConnection(client, this.#o.holdBufferBytes, this.#onHeldGone, this.#budget);
    this.#held.set(held, this.#o.clock.setTimer(this.#holdTimeoutMs, () => this.#holdExpired(held)));
    this.#o.backend.setHeld(+1);
    void this.#acquireFor(held, retry, first, port);
  }

  /** Waits for the service on behalf of a held connection (also while closing); never rejects. */
  async #acquireFor(held: HeldConnection, retry: boolean, first: Promise<void> | undefined, port: number | undefined): Promise<void> {
    const backend = this.#o.backend;
    let lease: Lease;
    try {
      if (first !== undefined) await first;
      lease = await backend.acquire(held.signal);
    } catch (err) {
      if (!held.holding) return; // the client went away (or shutdown closed it) first
      this.#o.logger.debug({ err: describe(err) }, `service "${backend.name}": closing a held connection: ${describe(err)}`);
      held.close('start failed', true);
      backend.refused(err instanceof PortwakeError && err.code === 'START_LIMITED' ? 'backing_off' : 'start_failed');
      return;
    }
    if (!held.holding) {
      lease.release();
      return;
    }
    // Forward first: while closing, an empty moment between held and open would end close() early.
    this.#o.forward(held.handOver(), lease, retry, port);
    this.#release(held);
  }

  #onHeldGone = (held: HeldConnection): void => {
    this.#release(held);
  };

  /** holdTimeout passed and the service is still not ready for this connection: it is closed. */
  #holdExpired(held: HeldConnection): void {
    if (!held.holding) return;
    this.#o.reports.holdExpired(this.#holdTimeoutMs);
    held.close('hold timeout');
    this.#o.backend.refused('hold_timeout');
  }

  #release(held: HeldConnection): void {
    const timer = this.#held.get(held);
    if (timer === undefined) return;
    timer.cancel();
    this.#held.delete(held);
    this.#o.backend.setHeld(-1);
    this.#o.released();
  }
}
