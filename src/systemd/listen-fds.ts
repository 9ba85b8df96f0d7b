// The sockets systemd passed (sd_listen_fds: LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES, fds from 3),
// matched against the services' `listen: systemd[:NAME]`. Pure: the environment and the fd type
// lookup are arguments; the only effect is clearListenEnv.

import type { ServiceConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import { describeFdInfo, type FdInfo, type FdTypeLookup } from './socket-type.ts';

/** The first passed file descriptor (SD_LISTEN_FDS_START). */
export const LISTEN_FDS_START = 3;

export type ListenEnv = Readonly<Record<string, string | undefined>>;

export interface PassedFd {
  fd: number;
  /** FileDescriptorName= of the socket unit (systemd's default: the socket unit's name). */
  name: string;
  info: FdInfo;
}

export interface ListenFds {
  fds: PassedFd[];
  /** Why LISTEN_* variables that are present were not taken (for messages), undefined otherwise. */
  ignored: string | undefined;
}

/** One `listen: systemd[:NAME]` of a service. */
export interface FdClaim {
  service: string;
  /** undefined: every passed socket (single-service configs only). */
  name: string | undefined;
  /** The listen entry as written, for messages. */
  text: string;
}

export interface ClaimedFd {
  service: string;
  /** The listen entry that claimed it. */
  listen: string;
  fd: number;
  name: string;
  info: FdInfo;
}

/**
 * Reads the LISTEN_* variables as sd_listen_fds_with_names() does. Variables meant for another
 * process (LISTEN_PID is not `pid`, or unset) yield no fds and say why in `ignored`. Malformed
 * variables throw PortwakeError SYSTEMD_FDS.
 */
export function parseListenFds(env: ListenEnv, pid: number, lookup: FdTypeLookup): ListenFds {
  const fdsText = env.LISTEN_FDS;
  if (fdsText === undefined) return { fds: [], ignored: undefined };
  const pidText = env.LISTEN_PID;
  if (pidText === undefined) return { fds: [], ignored: 'LISTEN_FDS is set but LISTEN_PID is not' };
  if (!/^\d+$/.test(pidText)) throw fdsError(`LISTEN_PID="${pidText}" is not a process id`);
  if (Number(pidText) !== pid) {
    return { fds: [], ignored: `LISTEN_PID=${pidText} is another process (this is ${pid}): the sockets were not passed to portwake` };
  }
  if (!/^\d+$/.test(fdsText)) throw fdsError(`LISTEN_FDS="${fdsText}" is not a number of file descriptors`);
  const count = Number(fdsText);
  const namesText = env.LISTEN_FDNAMES;
  const names = namesText === undefined ? [] : namesText === '' && count === 0 ? [] : namesText.split(':');
  if (namesText !== undefined && names.length !== count) {
    throw fdsError(`LISTEN_FDNAMES has ${names.length} name(s) ("${namesText}") for LISTEN_FDS=${count}`);
  }
  const fds: PassedFd[] = [];
  for (let i = 0; i < count; i++) {
    const fd = LISTEN_FDS_START + i;
    fds.push({ fd, name: names[i] ?? 'unknown', info: lookup(fd) });
  }
  return { fds, ignored: undefined };
}

/** Removes LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES so no child process sees them. */
export function clearListenEnv(env: Record<string, string | undefined>): void {
  delete env.LISTEN_PID;
  delete env.LISTEN_FDS;
  delete env.LISTEN_FDNAMES;
}

/** Every `listen: systemd[:NAME]` in the services, in config order. */
export function systemdClaims(services: readonly ServiceConfig[]): FdClaim[] {
  const claims: FdClaim[] = [];
  for (const s of services) {
    for (const l of s.listen) if (l.kind === 'systemd') claims.push({ service: s.name, name: l.name, text: l.text });
  }
  return claims;
}

/**
 * Gives each claim its passed sockets: `systemd:NAME` takes every socket named NAME (a socket
 * unit may have several ListenStream= under one name), bare `systemd` takes all of them and is
 * allowed only when there is one service. Throws one PortwakeError SYSTEMD_FDS listing every
 * problem: a claimed name not passed, a passed socket nobody claims, a socket that is not a
 * listening stream socket (datagram, Accept=yes connection, not a socket), a name claimed twice.
 */
export function claimListenFds(claims: readonly FdClaim[], serviceCount: number, passed: ListenFds): ClaimedFd[] {
  const problems: string[] = [];
  const claimed: ClaimedFd[] = [];
  const taken = new Map<number, string>();
  const passedList = passed.fds.length === 0 ? 'none' : passed.fds.map((p) => `"${p.name}" (fd ${p.fd})`).join(', ');
  const why = passed.ignored === undefined ? '' : `; ${passed.ignored}`;

  for (const c of claims) {
    if (c.name === undefined && serviceCount > 1) {
      problems.push(`service "${c.service}": "${c.text}" takes every passed socket, which is only allowed with one service; use systemd:NAME (FileDescriptorName=NAME)`);
      continue;
    }
    const mine = passed.fds.filter((p) => c.name === undefined || p.name === c.name);
    if (mine.length === 0) {
      problems.push(c.name === undefined
        ? `service "${c.service}": listen: ${c.text}, but systemd passed no sockets${why === '' ? ' (LISTEN_FDS is not set: start portwake from a .socket unit)' : why}`
        : `service "${c.service}": listen: ${c.text}, but systemd passed no socket named "${c.name}" (passed: ${passedList}${why}); set FileDescriptorName=${c.name} in the .socket unit`);
      continue;
    }
    for (const p of mine) {
      const owner = taken.get(p.fd);
      if (owner !== undefined) {
        problems.push(`socket "${p.name}" (fd ${p.fd}) is claimed by both service "${owner}" and service "${c.service}"`);
        continue;
      }
      taken.set(p.fd, c.service);
      const bad = streamProblem(p.info);
      if (bad !== undefined) {
        problems.push(`service "${c.service}": socket "${p.name}" (fd ${p.fd}) is ${bad}`);
        continue;
      }
      claimed.push({ service: c.service, listen: c.text, fd: p.fd, name: p.name, info: p.info });
    }
  }
  for (const p of passed.fds) {
    if (taken.has(p.fd)) continue;
    const bad = streamProblem(p.info);
    problems.push(bad === undefined
      ? `systemd passed socket "${p.name}" (fd ${p.fd}, ${describeFdInfo(p.info)}) but no service has listen: systemd:${p.name}`
      : `systemd passed socket "${p.name}" (fd ${p.fd}) that no service claims, and it is ${bad}`);
  }
  if (problems.length > 0) {
    throw fdsError(problems.length === 1 ? (problems[0] ?? '') : `${problems.length} problems: ${problems.join('; ')}`);
  }
  return claimed;
}

/**
 * The whole start-up step: parse, claim for these services, and clear the variables (also when
 * it throws, as sd_listen_fds(1) does).
 */
export function takeListenFds(
  services: readonly ServiceConfig[],
  env: Record<string, string | undefined>,
  pid: number,
  lookup: FdTypeLookup,
): ClaimedFd[] {
  try {
    return claimListenFds(systemdClaims(services), services.length, parseListenFds(env, pid, lookup));
  } finally {
    clearListenEnv(env);
  }
}

/** Why this fd cannot be served as a stream listener, undefined when it can (or cannot be told). */
function streamProblem(info: FdInfo): string | undefined {
  switch (info.kind) {
    case 'unknown':
      return undefined;
    case 'other-socket':
    case 'not-socket':
      return describeFdInfo(info);
    case 'socket':
      if (info.type === 'dgram') {
        return `a ${describeFdInfo(info)}; portwake forwards stream connections only (use ListenStream=, not ListenDatagram=)`;
      }
      if (info.type === 'seqpacket') {
        return `a ${describeFdInfo(info)}; portwake forwards stream connections only (use ListenStream=, not ListenSequentialPacket=)`;
      }
      if (!info.listening) {
        return `a ${describeFdInfo(info)} that is not listening (a connection passed with Accept=yes?); use Accept=no`;
      }
      return undefined;
  }
}

function fdsError(message: string): PortwakeError {
  return new PortwakeError('SYSTEMD_FDS', `systemd sockets: ${message}`);
}
