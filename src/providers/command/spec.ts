// What the command provider knows of one service: its command, and the environment its processes
// get (PORTWAKE_SERVICE, PORTWAKE_LISTEN, PORTWAKE_UPSTREAM and the upstream's parts).

import type { Endpoint } from '../../core/provider.ts';
import { formatEndpoint } from '../../core/upstream.ts';

export type CommandMode =
  /** A foreground process portwake owns: its exit is the service's "container stopped". */
  | { kind: 'run'; run: readonly string[] }
  /** Commands for an outside manager, each run to completion; status exits 0 while the service runs. */
  | { kind: 'manage'; start: readonly string[]; stop: readonly string[]; status: readonly string[] };

export interface CommandServiceSpec {
  /** The service's name, which is also its one "container"'s name. */
  name: string;
  command: CommandMode;
  /** Where the process listens (required for a command service). */
  upstream: Endpoint;
  /** The service's listeners, as the config writes them. */
  listen: readonly string[];
  /** How long close() lets a run: process take after SIGTERM (the service's stopTimeout). */
  stopTimeoutMs: number;
}

/** The variables every process of the service gets, on top of portwake's own environment. */
export function serviceEnv(spec: CommandServiceSpec): Record<string, string> {
  const env: Record<string, string> = {
    PORTWAKE_SERVICE: spec.name,
    PORTWAKE_LISTEN: spec.listen.join(','),
    PORTWAKE_UPSTREAM: formatEndpoint(spec.upstream),
  };
  if (spec.upstream.kind === 'tcp') {
    env.PORTWAKE_UPSTREAM_HOST = spec.upstream.host;
    env.PORTWAKE_UPSTREAM_PORT = String(spec.upstream.port);
  } else {
    env.PORTWAKE_UPSTREAM_PATH = spec.upstream.path;
  }
  return env;
}

/** An argv as a message shows it: [busybox, httpd, -f]. */
export function showArgv(argv: readonly string[]): string {
  return `[${argv.map((a) => (/^[\w./:=@%+-]+$/.test(a) ? a : JSON.stringify(a))).join(', ')}]`;
}
