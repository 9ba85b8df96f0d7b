// The README's configuration reference stands on its own: every key the schema accepts is named in
// it (a key added without a line there fails here), with the forms newcomers trip over.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { LABELS, NAME_LABEL } from '../../src/config/labels.ts';
import { knownKeys } from '../../src/config/schema.ts';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The README from "## TITLE" to the next "## " heading. */
function section(title: string): string {
  const start = README.indexOf(`## ${title}`);
  assert.ok(start >= 0, `README has a "## ${title}" section`);
  const end = README.indexOf('\n## ', start + 3);
  return README.slice(start, end < 0 ? undefined : end);
}

describe('README reference', () => {
  it('names every key the schema accepts', () => {
    const reference = section('Configuration reference') + section('Control API');
    const paths: Array<readonly PropertyKey[]> = [[], ['control'], ['discovery'], ['discovery', 'docker'], ['services', 'web'], ['services', 'web', 'ready'], ['services', 'web', 'ready', 'http'], ['engines', 'podman'], ['engines', 'podman', 'tls']];
    // Named in a code span (`engine:`, `{delay: 1s}`) or a YAML example line.
    const code = [...reference.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '').concat(reference.split('\n').filter((l) => /^\s+[#\w]/.test(l)));
    const named = (key: string): boolean => code.some((c) => new RegExp(`(^|[^\\w])${key}:?([^\\w]|$)`).test(c));
    const missing = paths.flatMap((p) => knownKeys(p).filter((key) => !named(key)).map((key) => [...p.map(String), key].join('.')));
    assert.deepEqual(missing, [], 'keys the schema accepts that the reference does not name');
  });

  it('shows the forms a newcomer writes: bare ready: http, whole-second stopTimeout, idleTimeout: never, control: ADDR', () => {
    const reference = section('Configuration reference');
    const row = (key: string): string => reference.split('\n').find((l) => l.startsWith(`| \`${key}\``)) ?? '';
    assert.match(row('ready'), /`http` \(GET `\/`/);
    assert.match(row('stopTimeout'), /whole seconds/);
    assert.match(row('idleTimeout'), /`never`/);
    assert.match(reference, /`control: ADDR` is short for `control: \{listen: ADDR\}`/);
  });

  it('names every container label discovery reads, in its table', () => {
    const table = section('Services from container labels');
    const missing = [...LABELS.map((r) => r.label), NAME_LABEL].filter((label) => !new RegExp(`\`(portwake\\.)?${label}\``).test(table));
    assert.deepEqual(missing, [], 'labels that the README\'s table does not name');
  });

  it('refers to nothing outside the repository', () => {
    assert.doesNotMatch(README, /shared\/seed|\/work\//);
  });
});
