// Whether a command's program can be run, for `portwake check` and the start-up check: an
// absolute or relative path must be an executable file, a bare name must be found on PATH.

import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/** A sentence saying why argv[0] cannot be run, or undefined when it can. */
export function programProblem(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): string | undefined {
  const program = argv[0];
  if (program === undefined) return 'the command is empty';
  if (program.includes('/')) {
    return executable(program) ? undefined : `program "${program}" is not an executable file${isAbsolute(program) ? '' : ' (a relative path is taken from portwake\'s working directory)'}`;
  }
  const dirs = (env['PATH'] ?? '').split(delimiter).filter((d) => d !== '');
  return dirs.some((d) => executable(join(d, program))) ? undefined : `program "${program}" is not on PATH (${dirs.join(delimiter) || 'empty'}); give its absolute path or fix PATH`;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
