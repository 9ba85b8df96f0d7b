// How a problem found at a data path (['services', 'web', 'idleTimeout']) is named and placed: in a
// file by dotted path and line:col, for `portwake proxy` by the flag it came from.

export type Path = readonly PropertyKey[];

export interface Position { line: number; col: number }

/**
 * Where an issue points: the value (default), the key (unknown keys, bad names) or the map holding
 * the key (missing keys).
 */
export type IssueAnchor = 'value' | 'key' | 'parent';

/** A problem before it is placed: path into the data plus a message. */
export interface RawIssue {
  path: Path;
  at: IssueAnchor;
  message: string;
}

export interface Locator {
  /** `services.web.idleTimeout`, or `--idle`. */
  name(path: Path): string;
  /** 1-based position in the file; undefined when there is no file. */
  position(path: Path, at: IssueAnchor): Position | undefined;
  /** How one message mentions another place: `services.web.listen[0] at line 4`, or `--listen`. */
  reference(path: Path): string;
}

/** `services.web.listen[0]`; segments that are not plain words are quoted: `services["my.app"]`. */
export function formatPath(path: Path): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(String(segment))) out += `${out === '' ? '' : '.'}${String(segment)}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}
