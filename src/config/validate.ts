// Plain data (from YAML or from flags) → PortwakeConfig, or every problem found: the schema's issues
// (unknown keys with "did you mean", missing keys, bad values) plus the cross-field rules.

import type { z } from 'zod';
import type { ConfigIssue } from './errors.ts';
import type { IssueAnchor, Locator, Path, RawIssue } from './locator.ts';
import { show } from './parsed.ts';
import { crossFieldIssues } from './rules.ts';
import { configSchema, knownKeys, type SchemaOptions } from './schema.ts';
import { didYouMean } from './suggest.ts';
import type { PortwakeConfig } from './types.ts';
import { isMap } from './zod-field.ts';

export type Validated =
  | { ok: true; config: Omit<PortwakeConfig, 'source'> }
  | { ok: false; issues: ConfigIssue[] };

/** Validates a top-level map. Issues come out in file order (or flag order), without duplicates. */
export function validate(root: Record<string, unknown>, locator: Locator, options: SchemaOptions = {}): Validated {
  const result = configSchema(options).safeParse(root);
  const raw = [
    ...(result.success ? [] : result.error.issues.flatMap((issue) => fromZod(issue, root))),
    ...crossFieldIssues(root, options, locator),
  ];
  if (raw.length === 0 && result.success) return { ok: true, config: result.data };
  return { ok: false, issues: place(raw, locator) };
}

function place(raw: readonly RawIssue[], locator: Locator): ConfigIssue[] {
  const seen = new Set<string>();
  const issues: ConfigIssue[] = [];
  for (const r of raw) {
    const position = locator.position(r.path, r.at);
    const issue = { line: position?.line, col: position?.col, path: locator.name(r.path), message: r.message };
    const key = JSON.stringify(issue);
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  // Stable sort: issues without a position (flags) keep their order.
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}

/** What a missing required key is for, by its path (service names replaced by '*'). */
const REQUIRED_HINTS: Readonly<Record<string, string>> = {
  services: 'a map of service name to service',
  'services.*.listen': 'where to accept connections, e.g. "80" or "unix:/run/app.sock"; or give "hosts:" for the HTTP router',
  'services.*.container': 'the name of the container to start',
  'control.listen': 'e.g. "unix:/run/portwake/control.sock" or "127.0.0.1:9090"',
};

function requiredHint(path: Path): string {
  const pattern = path.map((segment, i) => (i === 1 && path[0] === 'services' ? '*' : String(segment))).join('.');
  const hint = REQUIRED_HINTS[pattern];
  return hint === undefined ? '' : ` (${hint})`;
}

function fromZod(issue: z.core.$ZodIssue, root: unknown): RawIssue[] {
  const path = issue.path;
  // Stands for issues that rules.ts reports itself (e.g. a command service without upstream:).
  if (issue.code === 'custom' && (issue.params as { silent?: boolean } | undefined)?.silent === true) return [];
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(path);
    return issue.keys.map((key) => ({ path: [...path, key], at: 'key', message: `unknown key${didYouMean(key, known)}` }));
  }
  const { parent, present } = lookup(root, path);
  if (!present && isMap(parent)) {
    return [{ path, at: 'parent', message: `is required${requiredHint(path)}` }];
  }
  if (issue.code === 'invalid_type') {
    const value = lookup(root, path).value;
    const expected = issue.expected === 'object' || issue.expected === 'record' ? 'a map' : issue.expected;
    return [{ path, at: 'value', message: `expected ${expected}, got ${show(value)}` }];
  }
  const at = issue.code === 'custom' ? (issue.params as { at?: IssueAnchor } | undefined)?.at : undefined;
  return [{ path, at: at ?? 'value', message: issue.message }];
}

function lookup(root: unknown, path: Path): { value: unknown; parent: unknown; present: boolean } {
  let parent: unknown;
  let value = root;
  for (const segment of path) {
    parent = value;
    if (Array.isArray(value) && typeof segment === 'number') value = value[segment];
    else if (isMap(value) && Object.hasOwn(value, segment)) value = value[String(segment)];
    else return { value: undefined, parent, present: false };
  }
  return { value, parent, present: true };
}
