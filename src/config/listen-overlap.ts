// Which listen addresses would collide at bind time: two services (or one twice, or a service and the
// control API) on the same port of overlapping addresses, the same unix path or the same systemd socket.

import { isIP } from 'node:net';
import { expandV6 } from './host-port.ts';
import type { Path } from './locator.ts';

export type Address =
  | { kind: 'tcp'; host: string | undefined; port: number }
  | { kind: 'unix'; path: string }
  | { kind: 'systemd'; name: string | undefined };

export interface Claim {
  /** Service name; undefined for the control API or the HTTP router. */
  owner: string | undefined;
  /** Who holds it when not a service, for messages (undefined: the control API). */
  label?: string;
  path: Path;
  address: Address;
  /** As the user wrote it, for messages. */
  text: string;
}

/**
 * Whether binding both would fail or steal each other's connections. A bare port binds every
 * address of both families; `0.0.0.0` every IPv4 and `::` every IPv6 address (the proxy binds an
 * explicit `::` IPv6-only, so `0.0.0.0:80` and `[::]:80` can be listed together). Host names are
 * not resolved, so they only collide with a bare port or the same name.
 */
export function overlaps(a: Address, b: Address): boolean {
  if (a.kind === 'unix' && b.kind === 'unix') return a.path === b.path;
  if (a.kind === 'systemd' && b.kind === 'systemd') return a.name === undefined || b.name === undefined || a.name === b.name;
  if (a.kind === 'tcp' && b.kind === 'tcp') return a.port === b.port && hostsOverlap(a.host, b.host);
  return false;
}

type HostClass = { family: 4 | 6 | 'name'; wildcard: boolean; canonical: string };

function classify(host: string): HostClass {
  const family = isIP(host);
  if (family === 4) return { family: 4, wildcard: host === '0.0.0.0', canonical: host };
  if (family === 6) {
    const canonical = expandV6(host);
    return { family: 6, wildcard: canonical === expandV6('::'), canonical };
  }
  return { family: 'name', wildcard: false, canonical: host.toLowerCase() };
}

function hostsOverlap(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined) return true;
  const x = classify(a);
  const y = classify(b);
  if (x.family !== y.family) return false;
  return x.wildcard || y.wildcard || x.canonical === y.canonical;
}

/** For every claim that collides with an earlier one: the pair (only the first earlier match). */
export function findOverlaps(claims: readonly Claim[]): Array<{ claim: Claim; earlier: Claim }> {
  const found: Array<{ claim: Claim; earlier: Claim }> = [];
  claims.forEach((claim, i) => {
    const earlier = claims.slice(0, i).find((c) => overlaps(c.address, claim.address));
    if (earlier !== undefined) found.push({ claim, earlier });
  });
  return found;
}
