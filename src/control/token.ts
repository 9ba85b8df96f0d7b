// Where the control API's bearer token comes from, for the daemon and for the CLI's clients. A
// token on a command line is readable by every local user (/proc/PID/cmdline, `ps`), so the
// quiet sources are files and the environment: control.tokenFile, systemd's credential
// (LoadCredential=portwake-token:FILE puts it in $CREDENTIALS_DIRECTORY) and PORTWAKE_TOKEN.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ControlConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';

/** The credential name generated units load the token under (LoadCredential=portwake-token:FILE). */
export const TOKEN_CREDENTIAL = 'portwake-token';
export const TOKEN_ENV = 'PORTWAKE_TOKEN';
/** A token file larger than this is not a token (a wrong path, say). */
const MAX_TOKEN_FILE_BYTES = 4096;

export type TokenEnv = Readonly<Record<string, string | undefined>>;
export type ReadText = (path: string) => string;

const readText: ReadText = (path) => readFileSync(path, 'utf8');

/**
 * The token in `path`: its text without the trailing newline. Throws CONFIG_INVALID naming the
 * path (`what` says whose it is) when it cannot be read, is empty, too long or has spaces.
 */
export function readTokenFile(path: string, what: string, read: ReadText = readText): string {
  let text: string;
  try {
    text = read(path);
  } catch (err) {
    throw new PortwakeError('CONFIG_INVALID', `${what} ${path}: cannot read the token: ${(err as Error).message}`, { cause: err });
  }
  const token = text.replace(/\r?\n$/, '');
  if (token.length > MAX_TOKEN_FILE_BYTES) throw new PortwakeError('CONFIG_INVALID', `${what} ${path}: ${token.length} bytes is not a token (at most ${MAX_TOKEN_FILE_BYTES})`);
  // Never echo the token itself: messages end up in logs.
  if (!/^\S+$/.test(token)) throw new PortwakeError('CONFIG_INVALID', `${what} ${path}: expected one line holding a token without spaces`);
  return token;
}

/**
 * Whether the environment gives the daemon a token (PORTWAKE_TOKEN, or the systemd credential
 * portwake-token): then a config whose control API listens beyond loopback needs none of its own.
 */
export function environmentHasToken(env: TokenEnv): boolean {
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return true;
  const credential = credentialPath(env);
  return credential !== undefined && existsSync(credential);
}

/** The systemd credential's path, when the service was started with one. */
function credentialPath(env: TokenEnv): string | undefined {
  const dir = env.CREDENTIALS_DIRECTORY;
  return dir === undefined || dir === '' ? undefined : join(dir, TOKEN_CREDENTIAL);
}

/**
 * The daemon's token, first found of: control.token, the systemd credential portwake-token,
 * control.tokenFile, PORTWAKE_TOKEN. undefined: none. A named file that cannot be read is an error.
 */
export function daemonToken(config: ControlConfig, env: TokenEnv, read: ReadText = readText): string | undefined {
  if (config.token !== undefined && config.token !== '') return config.token;
  const credential = credentialPath(env);
  if (credential !== undefined) {
    try {
      return readTokenFile(credential, 'systemd credential', read);
    } catch (err) {
      // No such credential: the unit loads none (or others); anything else is an error.
      if (!isMissing(err)) throw err;
    }
  }
  if (config.tokenFile !== undefined) return readTokenFile(config.tokenFile, 'control.tokenFile', read);
  const fromEnv = env[TOKEN_ENV];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

/**
 * A client's token (portwake status/start/stop/events), first found of: --token, --token-file,
 * PORTWAKE_TOKEN, then the config file's control.token or control.tokenFile. `warn` hears that
 * --token shows the token to every local user.
 */
export function clientToken(
  flags: { token?: string | undefined; tokenFile?: string | undefined },
  env: TokenEnv,
  config: Pick<ControlConfig, 'token' | 'tokenFile'> | undefined,
  warn: (message: string) => void,
  read: ReadText = readText,
): string | undefined {
  if (flags.token !== undefined) {
    warn(`warning: --token is visible to every user of this machine (ps, /proc/${process.pid}/cmdline); use --token-file FILE or ${TOKEN_ENV} instead`);
    return flags.token;
  }
  if (flags.tokenFile !== undefined) return readTokenFile(flags.tokenFile, '--token-file', read);
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (config?.token !== undefined && config.token !== '') return config.token;
  if (config?.tokenFile !== undefined) return readTokenFile(config.tokenFile, 'control.tokenFile', read);
  return undefined;
}

function isMissing(err: unknown): boolean {
  return (err as { cause?: { code?: unknown } }).cause?.code === 'ENOENT';
}
