// The result every field parser returns, and how a message shows the value it rejected.

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function ok<T>(value: T): Parsed<T> {
  return { ok: true, value };
}

export function fail<T = never>(message: string): Parsed<T> {
  return { ok: false, message };
}

/** The offending value as a message shows it: `"ten"`, `30`, `nothing`, `a list`, `a map`. */
export function show(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  return typeof value;
}
