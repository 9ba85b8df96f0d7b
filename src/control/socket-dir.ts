// The directory of the control API's unix socket: created when missing (e.g. /run/portwake on a
// fresh machine), or an error that names it — binding into a missing directory fails with EACCES
// (libuv reports ENOENT that way), which sends people looking for a permission problem.

import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { describe, PortwakeError } from '../core/errors.ts';

/** Creates dirname(path) (0755, parents too) unless it exists; rejects with LISTEN_FAILED naming it. */
export async function ensureSocketDirectory(path: string): Promise<void> {
  const dir = dirname(path);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
  } catch (err) {
    throw new PortwakeError(
      'LISTEN_FAILED',
      `control API: cannot listen on unix:${path}: its directory ${dir} does not exist and cannot be created (${describe(err)}); ` +
        `create it (mkdir -p ${dir}; under systemd, RuntimeDirectory=) or choose a socket path in a directory portwake may write`,
      { cause: err },
    );
  }
}
