// Writing control API responses: JSON with explicit nulls, and the one error shape every route uses.

import type { ServerResponse } from 'node:http';

/** JSON where undefined becomes null, so a field that is "not yet known" is still present. */
export function toJson(value: unknown, indent?: number): string {
  return JSON.stringify(value, (_key, v: unknown) => (v === undefined ? null : v), indent);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = toJson(body, 2) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** `{ "error": { "code": ..., "message": ... } }` — the CLI prints message, scripts match code. */
export function sendError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  sendJson(res, status, { error: { code, message } }, headers);
}
