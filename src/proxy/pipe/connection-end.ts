// How a forwarded connection ends, on either data path (Connection, NativeConnection): the reasons,
// the end report its owner hears, the hand-back of a client whose upstream never connected, and the
// log line for each.

import type { Endpoint } from '../../core/provider.ts';
import type { Handoff } from '../handoff.ts';
import { systemErrorText } from '../sockets.ts';

export type CloseReason =
  /** Both directions ended (FIN each way) and every byte was delivered. */
  | 'done'
  /** The client socket failed (reset, EPIPE …): the upstream is reset too. */
  | 'client_reset'
  /** The upstream socket failed after connecting: the client is reset too. */
  | 'upstream_reset'
  /** The upstream could not be connected (refused, timed out): the client is closed. */
  | 'upstream_unreachable'
  /** lease.signal aborted (the container went away): both sides are reset. */
  | 'lease_aborted'
  /** The owner closed it (shutdown after the grace period): both sides are reset. */
  | 'shutdown'
  /** The service stopped for want of traffic (idleOn: traffic): closed in order, a FIN each way. */
  | 'idle'
  /** The client half-closed and the upstream sent nothing for halfCloseTimeout: both sides are reset. */
  | 'half_closed_timeout';

export interface ConnectionEnd {
  reason: CloseReason;
  /** The socket error behind client_reset/upstream_reset/upstream_unreachable. */
  error: Error | undefined;
  bytesIn: number;
  bytesOut: number;
  durationMs: number;
  /** The client was handed to onUnconnected for another try rather than closed. */
  handedBack: boolean;
  /** The bytes after the first ones moved through the zero-copy pump. */
  spliced: boolean;
}

/**
 * What a connection hands back when its upstream could not be connected and it may be retried: the
 * client, for a new HeldConnection, with everything it sent so far (nothing was read from it beyond).
 */
export interface Unconnected {
  client: Handoff<'held'>;
  error: Error;
  /** The upstream that could not be connected. */
  upstream: Endpoint;
}

/** One line for a log: "upstream 10.0.0.2:80 unreachable: connection refused (ECONNREFUSED)". */
export function describeEnd(connection: { readonly upstream: string }, end: ConnectionEnd): string {
  const why = end.error === undefined ? '' : `: ${systemErrorText(end.error)}`;
  switch (end.reason) {
    case 'upstream_unreachable':
      return `cannot connect to upstream ${connection.upstream}${why}`;
    case 'upstream_reset':
      return `upstream ${connection.upstream} failed${why}`;
    case 'client_reset':
      return `client failed${why}`;
    case 'lease_aborted':
      return `upstream ${connection.upstream} went away`;
    case 'shutdown':
      return 'closed for shutdown';
    case 'idle':
      return 'closed in order: the service stopped for want of traffic';
    case 'half_closed_timeout':
      return `the client half-closed and upstream ${connection.upstream} sent nothing since`;
    case 'done':
      return 'done';
  }
}
