// `unix:/path/to.sock`: the socket path after the prefix, absolute (or made so) and short enough.

import { isAbsolute, resolve } from 'node:path';
import { fail, ok, type Parsed } from './parsed.ts';

/** sun_path holds 108 bytes on Linux (104 on macOS), one of them the terminating NUL. */
export const MAX_UNIX_PATH_BYTES = 107;

/**
 * The normalised absolute path of `unix:PATH` text (without the prefix). A relative path is resolved
 * against baseDir, or rejected when there is none (the config file: relative to what?).
 */
export function parseUnixPath(path: string, baseDir: string | undefined): Parsed<string> {
  if (path === '') return fail('the socket path after "unix:" is empty');
  if (path.includes('\0')) return fail('the socket path contains a NUL byte');
  if (!isAbsolute(path) && baseDir === undefined) {
    return fail(`expected an absolute socket path like "unix:/run/portwake/app.sock", got "unix:${path}"`);
  }
  const absolute = baseDir === undefined ? resolve(path) : resolve(baseDir, path);
  const bytes = Buffer.byteLength(absolute);
  if (bytes > MAX_UNIX_PATH_BYTES) {
    return fail(`socket path "${absolute}" is ${bytes} bytes long; the limit is ${MAX_UNIX_PATH_BYTES}`);
  }
  return ok(absolute);
}
