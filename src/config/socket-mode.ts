// Permission bits for unix sockets, written as an octal string ("0660").

import { fail, ok, show, type Parsed } from './parsed.ts';

export function parseSocketMode(value: unknown): Parsed<number> {
  if (typeof value === 'number') {
    // YAML 1.2 reads 0660 as the decimal number 660, so an unquoted mode is never what was meant.
    return fail(`expected an octal string like "0660", got the number ${value}; quote the mode, e.g. socketMode: "0660"`);
  }
  if (typeof value !== 'string') return fail(`expected an octal string like "0660", got ${show(value)}`);
  const m = /^(?:0o?)?([0-7]{3})$/.exec(value.trim());
  if (m === null) return fail(`expected an octal string like "0660", got ${show(value)}`);
  return ok(parseInt(m[1] ?? '', 8));
}
