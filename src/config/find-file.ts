// Which config file a command reads when none is named: ./portwake.yaml, then $PORTWAKE_CONFIG, then
// /etc/portwake/portwake.yaml — the first that exists. `-c FILE` always wins (and must exist when read).

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { PortwakeError } from '../core/errors.ts';

export const LOCAL_CONFIG = 'portwake.yaml';
export const SYSTEM_CONFIG = '/etc/portwake/portwake.yaml';

export interface ConfigSearch {
  /** The directory ./portwake.yaml is looked for in (the process's working directory). */
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** The system-wide file (default /etc/portwake/portwake.yaml; injected in tests). */
  systemPath?: string;
  /** Default: existsSync. */
  exists?: (path: string) => boolean;
}

export interface FoundConfig {
  /** Absolute path for a found file; as given for -c. */
  path: string;
  /** How it was chosen, for the line that says which file is used: `given with -c`, `$PORTWAKE_CONFIG`. */
  how: string;
}

/** The places searched, in order, each with how it is described. */
function candidates(o: ConfigSearch): Array<{ path: string | undefined; how: string }> {
  const fromEnv = o.env['PORTWAKE_CONFIG'];
  return [
    { path: resolve(o.cwd, LOCAL_CONFIG), how: 'in the current directory' },
    { path: fromEnv === undefined || fromEnv === '' ? undefined : resolve(o.cwd, fromEnv), how: '$PORTWAKE_CONFIG' },
    { path: o.systemPath ?? SYSTEM_CONFIG, how: 'the system-wide file' },
  ];
}

/** The first candidate that exists, or undefined. */
export function searchConfigFile(o: ConfigSearch): FoundConfig | undefined {
  const exists = o.exists ?? existsSync;
  for (const c of candidates(o)) if (c.path !== undefined && exists(c.path)) return { path: c.path, how: c.how };
  return undefined;
}

/** `-c FILE` as given, else the first file found; none found is a USAGE error naming every place. */
export function findConfigFile(given: string | undefined, o: ConfigSearch): FoundConfig {
  if (given !== undefined) return { path: given, how: 'given with -c' };
  const found = searchConfigFile(o);
  if (found !== undefined) return found;
  const places = candidates(o).map((c) => (c.how === '$PORTWAKE_CONFIG' ? (c.path === undefined ? '$PORTWAKE_CONFIG (not set)' : `$PORTWAKE_CONFIG (${c.path})`) : c.path));
  throw new PortwakeError('USAGE', `no config file: looked for ${places.join(', ')}; none exists. Write one there, or pass -c FILE`);
}
