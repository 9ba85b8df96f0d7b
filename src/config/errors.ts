// The one error the config layer throws: every problem found, each with its place in the file.

import { PortwakeError } from '../core/errors.ts';

export interface ConfigIssue {
  /** 1-based position of the offending value (or key); undefined when there is no file (flags). */
  line: number | undefined;
  col: number | undefined;
  /** `services.web.idleTimeout`, `--idle`, or '' for the file as a whole (syntax errors). */
  path: string;
  message: string;
}

/**
 * A config that must not be used. `issues` is every problem found, in file order; the message lists
 * them one per line as `portwake.yaml:LINE:COL: PATH: MESSAGE`.
 */
export class ConfigError extends PortwakeError {
  constructor(
    /** Where the config came from: the path as given, or "<flags>". */
    readonly source: string,
    readonly issues: readonly ConfigIssue[],
    /** The file name prefixed to each line (the base name); undefined for flags. */
    readonly file: string | undefined,
    options?: { cause?: unknown },
  ) {
    super('CONFIG_INVALID', issues.map((i) => formatIssue(file, i)).join('\n'), options);
  }
}

export function formatIssue(file: string | undefined, issue: ConfigIssue): string {
  const where = file === undefined ? '' : issue.line === undefined ? `${file}: ` : `${file}:${issue.line}:${issue.col ?? 1}: `;
  return `${where}${issue.path === '' ? '' : `${issue.path}: `}${issue.message}`;
}
