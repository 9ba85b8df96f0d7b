// The control API's address as the CLI's --control gives it, and the loopback rule for it. Parsing
// and the loopback test are the config's (one definition of what an address is); this adds the
// CLI's shorthand (a bare /path) and the USAGE error.

import { parseControlAddress as parseConfigAddress } from '../config/control-address.ts';
import { isLoopback } from '../config/host-port.ts';
import type { ControlConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import type { Endpoint } from '../core/provider.ts';
import { formatEndpoint } from '../core/upstream.ts';

export type ControlListen = ControlConfig['listen'];

/** Where a client connects: a unix socket path or a TCP host and port. */
export type ControlTarget = Endpoint;

/**
 * Parses `unix:/run/portwake.sock`, `/run/portwake.sock`, `127.0.0.1:9090`, `[::1]:9090` or
 * `localhost:9090`. Throws a USAGE PortwakeError naming the text on anything else.
 */
export function parseControlAddress(text: string): ControlTarget {
  const trimmed = text.trim();
  const r = parseConfigAddress(trimmed.startsWith('/') || trimmed.startsWith('./') ? `unix:${trimmed}` : trimmed, process.cwd());
  if (!r.ok) throw new PortwakeError('USAGE', `control address "${text}": expected unix:/path or HOST:PORT (${r.message})`);
  return r.value;
}

/** `unix:/path`, `127.0.0.1:9090` or `[::1]:9090`: the text parseControlAddress accepts back. */
export const formatControlAddress: (target: ControlTarget) => string = formatEndpoint;

/**
 * Whether a host name or address (bracketed, as in a Host header, or not) only ever reaches this
 * machine. Names other than `localhost` are not loopback: what they resolve to can change.
 */
export function isLoopbackHost(host: string): boolean {
  return isLoopback(host.replace(/^\[|\]$/g, ''));
}
