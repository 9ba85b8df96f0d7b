// The engine a generated unit talks to: a service started by systemd gets none of the generating
// shell's environment, so a DOCKER_HOST (and the TLS variables) the generator saw must be written
// into the unit as Environment= lines, or the service would talk to the default socket instead.

import { setting, type UnitLine } from './unit-file.ts';

/** The variables, in this order, that say which engine and how to reach it. */
const TLS_VARIABLES = ['DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH'] as const;

/**
 * What the unit must carry: DOCKER_HOST=host when host is given and not defaultHost, and the TLS
 * variables that are set in env. host is undefined when the unit's command reads the engine from
 * elsewhere (a config file's `engine:`, an `--engine` flag).
 */
export function engineEnvironment(host: string | undefined, env: Readonly<Record<string, string | undefined>>, defaultHost: string): Array<[string, string]> {
  const vars: Array<[string, string]> = [];
  if (host !== undefined && host !== '' && host !== defaultHost) vars.push(['DOCKER_HOST', host]);
  for (const name of TLS_VARIABLES) {
    const value = env[name];
    if (value !== undefined && value !== '') vars.push([name, value]);
  }
  return vars;
}

/** One Environment= line per variable, quoted where needed; "%" doubled (systemd expands specifiers there, not "$"). */
export function environmentLines(vars: ReadonlyArray<readonly [string, string]>): UnitLine[] {
  return vars.map(([name, value]) => {
    const assignment = `${name}=${value}`.replace(/%/g, '%%');
    return setting('Environment', /^[A-Za-z0-9_@+=:,./-]+$/.test(assignment) ? assignment : `"${assignment.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`);
  });
}
