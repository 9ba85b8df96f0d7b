// Wake filters (`wake:`): which connections or requests may start a stopped service. Pure: the
// frontends pass what they know of a request (WakeRequest), the activation asks only while the
// service is not up or starting (then all traffic flows).

import type { WakeRequest } from './backend.ts';
import { cidrContains, parseIP, type Cidr } from './cidr.ts';

/**
 * A service's `wake:` as the config validated it. Evaluation order: a request matching any deny
 * rule may not wake the service (deny wins); then, when allow.sources is given, only a source in
 * one of its blocks may; otherwise any request may. HTTP-only rules (methods, paths, userAgents)
 * never match an L4 or TLS connection, which has none of these.
 */
export interface WakeSpec {
  allow?: { sources?: readonly Cidr[] | undefined } | undefined;
  deny?: {
    sources?: readonly Cidr[] | undefined;
    /** Upper case, compared exactly ("HEAD"). */
    methods?: readonly string[] | undefined;
    /** Path prefixes ("/robots.txt", "/.well-known/"), compared case-sensitively, query ignored. */
    paths?: readonly string[] | undefined;
    /** Lower case; a User-Agent containing one (any case) matches ("uptimerobot"). */
    userAgents?: readonly string[] | undefined;
  } | undefined;
}

/** Why a request may not wake the service, for a debug line; undefined: it may. */
export function wakeVerdict(spec: WakeSpec | undefined, request: WakeRequest): string | undefined {
  if (spec === undefined) return undefined;
  const deny = spec.deny;
  const allowed = spec.allow?.sources;
  const needsAddress = (deny?.sources?.length ?? 0) > 0 || allowed !== undefined;
  const address = needsAddress ? parseIP(request.source) : undefined;
  if (deny !== undefined) {
    const byCidr = address === undefined ? undefined : deny.sources?.find((c) => cidrContains(c, address));
    if (byCidr !== undefined) return `source ${request.source} is in deny.sources ${byCidr.text}`;
    const method = request.method?.toUpperCase();
    if (method !== undefined && deny.methods?.includes(method) === true) return `method ${method} is in deny.methods`;
    if (request.path !== undefined) {
      const q = request.path.search(/[?#]/);
      const path = q < 0 ? request.path : request.path.slice(0, q);
      const prefix = deny.paths?.find((p) => path.startsWith(p));
      if (prefix !== undefined) return `path ${path} starts with ${prefix} (deny.paths)`;
    }
    if (request.userAgent !== undefined) {
      const ua = request.userAgent.toLowerCase();
      const pattern = deny.userAgents?.find((p) => ua.includes(p));
      if (pattern !== undefined) return `User-Agent contains "${pattern}" (deny.userAgents)`;
    }
  }
  if (allowed !== undefined && (address === undefined || !allowed.some((c) => cidrContains(c, address)))) {
    return `source ${request.source} is not in allow.sources`;
  }
  return undefined;
}
