// The headers a proxied request and its response carry: hop-by-hop headers (RFC 9110 7.6.1) are
// dropped each way; X-Forwarded-For/-Proto/-Host are set, replacing what the client sent unless
// the client is a trusted proxy (`http.trustForwarded`), whose values are kept and appended to.

import net from 'node:net';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);

export interface ForwardedPolicy {
  /** Set X-Forwarded-*; false: the client's headers pass untouched. */
  enabled: boolean;
  /** Clients whose X-Forwarded-* headers are kept (appended to). */
  trusted: net.BlockList;
}

/** A BlockList of "ADDR/PREFIX" entries as the config gives them. */
export function trustList(cidrs: readonly string[]): net.BlockList {
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [address = '', prefix = ''] = cidr.split('/');
    const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
    list.addSubnet(address, Number(prefix), family);
  }
  return list;
}

/** The client's address as text, IPv4-mapped IPv6 ("::ffff:1.2.3.4") as plain IPv4. */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return '';
  return remote.startsWith('::ffff:') && net.isIPv4(remote.slice(7)) ? remote.slice(7) : remote;
}

function isTrusted(list: net.BlockList, address: string): boolean {
  if (address === '') return false;
  return list.check(address, net.isIPv6(address) ? 'ipv6' : 'ipv4');
}

/** Names listed in Connection: (also hop-by-hop), lower case. */
function connectionTokens(raw: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]?.toLowerCase() === 'connection') for (const t of (raw[i + 1] ?? '').split(',')) out.add(t.trim().toLowerCase());
  }
  return out;
}

/**
 * The request's raw headers (name, value, name, value …) for the upstream. `upgrade`: keep
 * Connection and Upgrade (a WebSocket handshake passes through as it is).
 */
export function requestHeaders(raw: readonly string[], client: string, policy: ForwardedPolicy, upgrade: boolean): string[] {
  const drop = upgrade ? new Set<string>() : connectionTokens(raw);
  const trusted = policy.enabled && isTrusted(policy.trusted, client);
  const out: string[] = [];
  let host: string | undefined;
  const kept: Record<string, string | undefined> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const value = raw[i + 1] ?? '';
    const lower = name.toLowerCase();
    if (lower === 'host') host ??= value;
    if (!upgrade && (HOP_BY_HOP.has(lower) || drop.has(lower))) continue;
    if (policy.enabled && FORWARDED.has(lower)) {
      if (trusted) kept[lower] = kept[lower] === undefined ? value : `${kept[lower]}, ${value}`;
      continue;
    }
    out.push(name, value);
  }
  if (!policy.enabled) return out;
  const xff = kept['x-forwarded-for'];
  out.push('X-Forwarded-For', xff === undefined ? client : `${xff}, ${client}`);
  out.push('X-Forwarded-Proto', kept['x-forwarded-proto'] ?? 'http');
  const xfh = kept['x-forwarded-host'] ?? host;
  if (xfh !== undefined) out.push('X-Forwarded-Host', xfh);
  return out;
}

/** The upstream response's raw headers for the client, without hop-by-hop ones. */
export function responseHeaders(raw: readonly string[]): string[] {
  const drop = connectionTokens(raw);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? '';
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || drop.has(lower)) continue;
    out.push(name, raw[i + 1] ?? '');
  }
  return out;
}
