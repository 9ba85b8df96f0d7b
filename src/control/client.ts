// A client for the control API over a unix socket or TCP (node:http), used by the CLI: one JSON
// request, or the `/events` stream as an async iterable of parsed events.

import { request, type IncomingMessage } from 'node:http';
import type { DaemonEvent } from '../core/status.ts';
import { formatControlAddress, type ControlTarget } from './address.ts';

export type ControlClientErrorCode = 'CONTROL_UNREACHABLE' | 'CONTROL_REFUSED' | 'CONTROL_FAILED';

/** The API could not be reached, refused us (401/403), or answered a request with an error. */
export class ControlClientError extends Error {
  readonly code: ControlClientErrorCode;
  /** HTTP status when the API answered; undefined when it could not be reached. */
  readonly status: number | undefined;
  /** The API's own error code (READY_TIMEOUT, UNKNOWN_SERVICE, ...), when it sent one. */
  readonly apiCode: string | undefined;
  constructor(code: ControlClientErrorCode, message: string, options: { status?: number; apiCode?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'ControlClientError';
    this.code = code;
    this.status = options.status;
    this.apiCode = options.apiCode;
  }
}

export interface ControlClientOptions {
  target: ControlTarget;
  token: string | undefined;
  /** Per-request deadline for JSON requests (not the event stream); default 30 s. */
  timeoutMs?: number;
}

export class ControlClient {
  readonly #target: ControlTarget;
  readonly #token: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: ControlClientOptions) {
    this.#target = options.target;
    this.#token = options.token;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
  }

  get address(): string {
    return formatControlAddress(this.#target);
  }

  /**
   * Sends one request and parses the JSON answer. Rejects with ControlClientError: unreachable,
   * refused (401/403) or failed (any other non-2xx, with the API's message). timeoutMs 0: no deadline.
   */
  async json<T>(method: 'GET' | 'POST', path: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const signals = [options.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter((s) => s !== undefined);
    const res = await this.#open(method, path, signals.length > 0 ? AbortSignal.any(signals) : undefined);
    const text = await readAll(res);
    if (res.statusCode === undefined || res.statusCode >= 300) throw this.#httpError(method, path, res.statusCode ?? 0, text);
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      throw new ControlClientError('CONTROL_FAILED', `${method} ${path} at ${this.address}: the answer is not JSON`, { cause: err });
    }
  }

  /** Follows `GET /events` until the signal aborts (returns) or the daemon ends the stream (returns). */
  async *events(signal?: AbortSignal): AsyncGenerator<DaemonEvent> {
    let res: IncomingMessage;
    try {
      res = await this.#open('GET', '/events', signal);
    } catch (err) {
      if (signal?.aborted === true) return;
      throw err;
    }
    if (res.statusCode !== 200) throw this.#httpError('GET', '/events', res.statusCode ?? 0, await readAll(res));
    res.setEncoding('utf8');
    let buffer = '';
    try {
      for await (const chunk of res) {
        buffer += chunk as string;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
          if (data !== '') yield JSON.parse(data) as DaemonEvent;
        }
      }
    } catch (err) {
      if (signal?.aborted === true) return;
      throw new ControlClientError('CONTROL_UNREACHABLE', `event stream from ${this.address} broke: ${(err as Error).message}`, { cause: err });
    } finally {
      res.destroy();
    }
  }

  #open(method: string, path: string, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    const target = this.#target;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.#token !== undefined) headers.authorization = `Bearer ${this.#token}`;
    return new Promise((resolve, reject) => {
      const req = request({
        method, path, headers,
        ...(target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port }),
        ...(signal === undefined ? {} : { signal }),
      }, resolve);
      req.on('error', (err: NodeJS.ErrnoException) => {
        const why = err.name === 'AbortError' || err.name === 'TimeoutError' ? describeAbort(signal) : err.message;
        reject(new ControlClientError('CONTROL_UNREACHABLE', `control API at ${this.address}: ${why}`, { cause: err }));
      });
      req.end();
    });
  }

  #httpError(method: string, path: string, status: number, body: string): ControlClientError {
    let apiCode: string | undefined;
    let message = body.trim().slice(0, 500);
    try {
      const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
      if (typeof parsed.error?.message === 'string') message = parsed.error.message;
      if (typeof parsed.error?.code === 'string') apiCode = parsed.error.code;
    } catch {
      // not JSON: keep the raw text
    }
    if (status === 401 || status === 403) {
      const hint = status === 401 ? (this.#token === undefined ? ' (pass --token-file FILE or set PORTWAKE_TOKEN)' : ' (check --token-file / PORTWAKE_TOKEN / --token)') : '';
      return new ControlClientError('CONTROL_REFUSED', `control API at ${this.address} refused ${method} ${path}: ${message}${hint}`, { status, ...(apiCode === undefined ? {} : { apiCode }) });
    }
    return new ControlClientError('CONTROL_FAILED', message === '' ? `${method} ${path}: HTTP ${status}` : message, { status, ...(apiCode === undefined ? {} : { apiCode }) });
  }
}

function describeAbort(signal: AbortSignal | undefined): string {
  const reason: unknown = signal?.reason;
  return reason instanceof Error && reason.name === 'TimeoutError' ? 'no answer in time' : 'request cancelled';
}

async function readAll(res: IncomingMessage): Promise<string> {
  res.setEncoding('utf8');
  let text = '';
  for await (const chunk of res) text += chunk as string;
  return text;
}
