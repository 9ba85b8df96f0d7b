// The Docker Engine API over node:http — the five calls portwake makes (start, stop, inspect, ping,
// events) need a request, a status and a JSON body, not a general client (dockerode's load cost the
// first activation ~94 ms: docs/benchmarks.md). Paths are unversioned, as dockerode sent them:
// the engine answers in its own API version, which keeps old and new engines (and Podman's
// compatibility API) working without a version to negotiate.

import type { Agent as HttpAgent, ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import type { DockerTarget } from './docker-host.ts';

/** The engine answered with an error status; `statusCode` and the engine's own message are kept. */
export class EngineHttpError extends Error {
  readonly statusCode: number;
  /** The engine's words (its JSON `message`, else the body's text), trimmed. */
  readonly engineMessage: string;

  constructor(method: string, path: string, statusCode: number, engineMessage: string) {
    super(`${method} ${path}: HTTP ${statusCode}${engineMessage === '' ? '' : ` — ${engineMessage}`}`);
    this.name = 'EngineHttpError';
    this.statusCode = statusCode;
    this.engineMessage = engineMessage;
  }
}

export interface EngineReply {
  /** A 2xx status, or 304 (the engine's "nothing to do" for start and stop). */
  status: number;
  /** The parsed JSON body; undefined when there is none or it is not JSON. */
  json: unknown;
}

export interface EngineApi {
  /** One request. Resolves for 2xx and 304; rejects with EngineHttpError for other statuses, with the socket's error when the engine cannot be reached, and with an AbortError when the signal aborts. */
  call(method: 'GET' | 'POST', path: string, query?: Record<string, string>, signal?: AbortSignal, body?: unknown): Promise<EngineReply>;
  /** A streaming GET on a connection of its own: resolves with the response once the engine answered 200. */
  stream(path: string, query: Record<string, string>, signal: AbortSignal): Promise<IncomingMessage>;
}

/** A body past this is cut (and then fails to parse): an inspect is a few KiB, an error one line. */
const MAX_BODY = 8 * 2 ** 20;

/** Creates the API client for a resolved address; loads node:https only for a TLS engine. */
export async function createEngineApi(target: DockerTarget): Promise<EngineApi> {
  const http = await import('node:http');
  let request: (options: RequestOptions) => ClientRequest;
  let base: RequestOptions;
  let pooled: HttpAgent;
  if (target.kind === 'unix') {
    request = http.request;
    base = { socketPath: target.socketPath };
    // Keep-alive spares a connect between an activation's start and inspect; an idle connection is
    // closed after 5 s (as Node's global agent does), before the engine could time it out under us.
    pooled = new http.Agent({ keepAlive: true, timeout: 5_000 });
  } else if (target.tls === undefined) {
    request = http.request;
    base = { host: target.host, port: target.port };
    pooled = new http.Agent({ keepAlive: true, timeout: 5_000 });
  } else {
    const https = await import('node:https');
    request = https.request;
    base = { host: target.host, port: target.port, ...target.tls };
    pooled = new https.Agent({ ...target.tls, keepAlive: true, timeout: 5_000 });
  }

  function send(method: string, path: string, query: Record<string, string> | undefined, signal: AbortSignal | undefined, agent: HttpAgent | false, retried = false, body?: string): Promise<IncomingMessage> {
    const search = query === undefined ? '' : `?${new URLSearchParams(query).toString()}`;
    const headers: Record<string, string> = body === undefined ? { Accept: 'application/json' } : { Accept: 'application/json', 'Content-Type': 'application/json' };
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ ...base, agent, method, path: `${path}${search}`, headers, ...(signal === undefined ? {} : { signal }) });
      req.once('response', resolve);
      req.once('error', (err: NodeJS.ErrnoException) => {
        // A kept-alive connection the engine closed as this request went out: the engine never
        // read it (it closes idle connections only), so it is sent once more on a new connection.
        if (!retried && req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE') && signal?.aborted !== true) {
          resolve(send(method, path, query, signal, agent, true, body));
        } else {
          reject(err);
        }
      });
      req.end(body);
    });
  }

  return {
    async call(method, path, query, signal, payload) {
      const res = await send(method, path, query, signal, pooled, false, payload === undefined ? undefined : JSON.stringify(payload));
      const body = await readBody(res);
      const status = res.statusCode ?? 0;
      if ((status >= 200 && status < 300) || status === 304) return { status, json: parseJson(res, body) };
      throw new EngineHttpError(method, path, status, messageOf(res, body));
    },
    async stream(path, query, signal) {
      // Not pooled: the stream holds its connection for as long as it runs.
      const res = await send('GET', path, query, signal, false);
      if (res.statusCode === 200) return res;
      const body = await readBody(res);
      throw new EngineHttpError('GET', path, res.statusCode ?? 0, messageOf(res, body));
    },
  };
}

function readBody(res: IncomingMessage): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY) chunks.push(chunk);
    });
    res.once('end', () => { resolve(Buffer.concat(chunks)); });
    // 'aborted' is covered: an aborted response emits 'error' (ECONNRESET) on Node ≥ 16.
    res.once('error', reject);
  });
}

function isJson(res: IncomingMessage): boolean {
  return /\bjson\b/i.test(res.headers['content-type'] ?? '');
}

function parseJson(res: IncomingMessage, body: Buffer): unknown {
  if (body.length === 0 || !isJson(res)) return undefined;
  return JSON.parse(body.toString('utf8')) as unknown;
}

function messageOf(res: IncomingMessage, body: Buffer): string {
  const text = body.toString('utf8').trim();
  if (isJson(res)) {
    try {
      const parsed = JSON.parse(text) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message.trim();
    } catch {
      // not the JSON it claims to be: the text itself is the best message there is
    }
  }
  return text.slice(0, 500);
}
