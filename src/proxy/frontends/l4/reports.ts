// What the L4 frontend reports about connections it could not serve or lost: the refusal the
// backend counts (for metrics and status) and the warning line, rate limited — a flood of
// connections must not become a flood of log lines.

import type { Backend } from '../../../core/backend.ts';
import type { Clock } from '../../../core/clock.ts';
import { debugEnabled, type Logger } from '../../../core/logger.ts';
import { LogLimit } from '../../log-limit.ts';
import { describeEnd, isFdLimit, type ConnectionEnd } from '../../pipe/connection.ts';
import type { NativeConnection } from '../../pipe/native-connection.ts';
import type { Connection } from '../../pipe/connection.ts';
import { systemErrorText } from '../../sockets.ts';

const LOG_INTERVAL_MS = 10_000;
const FD_LIMIT_HINT = ' (raise LimitNOFILE= or ulimit -n)';

/** A forwarded connection of either path. */
export type Forwarded = Connection | NativeConnection;

export class FrontendReports {
  readonly #backend: Backend;
  readonly #logger: Logger;
  /** Debug lines are written: the per-connection one is not even built otherwise. */
  readonly #debug: boolean;
  readonly #holdTimeouts: LogLimit;
  readonly #halfCloseTimeouts: LogLimit;
  readonly #acceptErrors: LogLimit;
  readonly #upstreamErrors: LogLimit;
  /** Shared by accept() and the upstream connect: both run out of the same descriptors. */
  readonly #fdLimitErrors: LogLimit;

  constructor(backend: Backend, logger: Logger, clock: Clock) {
    this.#backend = backend;
    this.#logger = logger;
    this.#debug = debugEnabled(logger);
    this.#holdTimeouts = new LogLimit(clock, LOG_INTERVAL_MS);
    this.#halfCloseTimeouts = new LogLimit(clock, LOG_INTERVAL_MS);
    this.#acceptErrors = new LogLimit(clock, LOG_INTERVAL_MS);
    this.#upstreamErrors = new LogLimit(clock, LOG_INTERVAL_MS);
    this.#fdLimitErrors = new LogLimit(clock, LOG_INTERVAL_MS);
  }

  /** A held connection waited holdTimeoutMs and is being closed (the caller counts the refusal). */
  holdExpired(holdTimeoutMs: number): void {
    const suppressed = this.#holdTimeouts.take();
    if (suppressed !== undefined) {
      this.#logger.warn({ holdTimeoutMs, suppressed }, `service "${this.#backend.name}": a connection waited ${holdTimeoutMs}ms (holdTimeout) for the service to become ready, closing it${suppressedSuffix(suppressed)}`);
    }
  }

  /** A forwarded connection ended; `halfCloseTimeoutMs`: the bound it may have hit. */
  connectionClosed(connection: Forwarded, end: ConnectionEnd, halfCloseTimeoutMs: number | undefined): void {
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
        this.#logger.warn({ upstream: connection.upstream, halfCloseTimeoutMs, suppressed }, `service "${this.#backend.name}": ${describeEnd(connection, end)} for ${halfCloseTimeoutMs}ms (halfCloseTimeout), resetting the connection${suppressedSuffix(suppressed)}`);
      }
    } else if (this.#debug) {
      this.#logger.debug({ reason: end.reason, bytesIn: end.bytesIn, bytesOut: end.bytesOut, durationMs: end.durationMs }, `service "${this.#backend.name}": connection closed: ${describeEnd(connection, end)}`);
    }
  }

  /**
   * Errors from accept(): a full fd table is a refusal, anything else is logged; never fatal.
   * libuv mostly hides EMFILE on accept (it closes the pending connections using a reserved fd and
   * reports nothing); this runs only when that fails. The visible symptom is usually the upstream
   * connect failing with EMFILE, which connectionClosed counts the same way.
   */
  acceptError(listener: string, err: Error, refused: number): void {
    const fdLimit = isFdLimit(err);
    if (fdLimit) for (let i = 0; i < Math.max(1, refused); i++) this.#backend.refused('fd_limit');
    const suppressed = (fdLimit ? this.#fdLimitErrors : this.#acceptErrors).take();
    if (suppressed === undefined) return;
    const msg = `service "${this.#backend.name}": cannot accept a connection on ${listener}: ${systemErrorText(err)}, ignoring${fdLimit ? FD_LIMIT_HINT : ''}${suppressedSuffix(suppressed)}`;
    if (fdLimit) this.#logger.warn({ listener, suppressed }, msg);
    else this.#logger.error({ listener, suppressed }, msg);
  }
}

function suppressedSuffix(suppressed: number): string {
  return suppressed > 0 ? ` (${suppressed} similar suppressed)` : '';
}
