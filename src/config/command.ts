// `provider: command` in the config: the provider's name and the argv lists of run:, start:, stop:
// and status:. How the keys relate (one of run: or start:/stop:/status:, upstream: required, no
// container:) is checked in rules.ts (commandIssues).

import type { CommandConfig } from './types.ts';
import { fail, ok, show, type Parsed } from './parsed.ts';

export type ProviderName = 'docker' | 'command';

/** Keys only a command service has. */
export const COMMAND_KEYS = ['run', 'start', 'stop', 'status'] as const;

export function parseProviderName(value: unknown): Parsed<ProviderName> {
  if (value === 'docker' || value === 'command') return ok(value);
  return fail(`expected "docker" (a container, the default) or "command" (a process portwake runs: run:, or start:/stop:/status:), got ${show(value)}`);
}

/** An argv list: at least the program, every item a non-empty string (numbers are taken as written). */
export function parseArgv(value: unknown): Parsed<string[]> {
  if (typeof value === 'string') {
    return fail(`expected a list of arguments like [busybox, httpd, -f, -p, "8080"], got ${show(value)} (no shell runs it: for a shell line write [sh, -c, ${JSON.stringify(value)}])`);
  }
  if (!Array.isArray(value) || value.length === 0) {
    return fail(`expected a non-empty list of arguments like [busybox, httpd, -f, -p, "8080"], got ${show(value)}`);
  }
  const argv: string[] = [];
  for (const [i, item] of value.entries()) {
    if (typeof item === 'number' && Number.isFinite(item)) argv.push(String(item));
    else if (typeof item === 'string' && item !== '' && !item.includes('\0')) argv.push(item);
    else return fail(`argument ${i + 1}: expected a non-empty string, got ${show(item)}`);
  }
  return ok(argv);
}

/** The command of a service whose provider is "command", from parsed fields; undefined when they do not fit (rules.ts says why). */
export function commandConfig(s: { run?: string[] | undefined; start?: string[] | undefined; stop?: string[] | undefined; status?: string[] | undefined }): CommandConfig | undefined {
  if (s.run !== undefined) return s.start === undefined && s.stop === undefined && s.status === undefined ? { kind: 'run', run: s.run } : undefined;
  if (s.start !== undefined && s.stop !== undefined && s.status !== undefined) return { kind: 'manage', start: s.start, stop: s.stop, status: s.status };
  return undefined;
}
