// The control API server: binds the configured unix socket or loopback/token-protected TCP address,
// authorizes each request, routes it, and owns every SSE stream so close() can end them all.

import { chmod } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ControlConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import { removeStaleSocket } from '../proxy/accept/stale-socket.ts';
import type { Logger } from '../core/logger.ts';
import type { DaemonControl } from '../core/status.ts';
import { formatControlAddress, isLoopbackHost, type ControlTarget } from './address.ts';
import { authorize, NO_TOKEN_HINT, type AuthPolicy } from './auth.ts';
import { openEventStream, type EventStream } from './event-stream.ts';
import { systemClock, type Clock } from '../core/clock.ts';
import { createControlMetrics } from './metrics.ts';
import { sendError, toJson } from './respond.ts';
import { ensureSocketDirectory } from './socket-dir.ts';
import { route, type RouteContext } from './routes.ts';
import { StartHistory } from './start-history.ts';
import { daemonToken, type TokenEnv } from './token.ts';

export interface ControlServerOptions {
  config: ControlConfig;
  control: DaemonControl;
  logger: Logger;
  /** Heartbeat comment interval on `GET /events`; default 15 s. */
  heartbeatMs?: number;
  /** Concurrent `GET /events` streams; more are answered 503. Default 32. */
  maxEventStreams?: number;
  /** Concurrent connections to the API; more are dropped by the kernel accept path. Default 128. */
  maxConnections?: number;
  /** Process metrics in `/metrics`; default true. */
  defaultMetrics?: boolean;
  /** Where PORTWAKE_TOKEN and systemd's CREDENTIALS_DIRECTORY are read (control/token.ts); default: none. */
  env?: TokenEnv;
  /** Time for status stamps, action timings, heartbeats and the close grace; default the system clock. */
  clock?: Clock;
}

export interface ControlServer {
  /** The bound address as `unix:/path` or `HOST:PORT` (the real port when 0 was configured). */
  readonly address: string;
  /** Stops listening, ends every event stream, unsubscribes; idempotent. */
  close(): Promise<void>;
}

const SLOW_CLIENT_BYTES = 1 << 20;
const CLOSE_GRACE_MS = 1000;

/**
 * Starts the control API. Rejects with CONFIG_INVALID when a TCP address beyond loopback has no
 * token (config validation rejects that too; this is the second lock), LISTEN_FAILED when binding
 * fails. The caller owns the returned server and must close() it.
 */
export async function startControlServer(options: ControlServerOptions): Promise<ControlServer> {
  const { config, control } = options;
  const logger = options.logger.child({ component: 'control' });
  const token = daemonToken(config, options.env ?? {});
  const listen = config.listen;
  const exposed = listen.kind === 'tcp' && !isLoopbackHost(listen.host);
  if (exposed && token === undefined) {
    throw new PortwakeError('CONFIG_INVALID',
      `control.listen ${formatControlAddress(listen)} is not a loopback address and control.token is not set; refusing to expose an unauthenticated control API`);
  }
  // Any local user can connect to a loopback port: without a token only reading stays open.
  const openChanges = listen.kind === 'unix' || token !== undefined || config.insecureNoToken === true;

  const metrics = createControlMetrics({ status: () => control.status(), defaultMetrics: options.defaultMetrics ?? true });
  const history = new StartHistory();
  const unsubscribe = control.subscribe((event) => {
    metrics.observe(event);
    history.observe(event);
  });

  const streams = new Set<EventStream>();
  const maxStreams = options.maxEventStreams ?? 32;
  const clock = options.clock ?? systemClock;
  const ctx: RouteContext = {
    control, metrics, history, logger, clock,
    openEvents(res) {
      if (streams.size >= maxStreams) {
        logger.warn({ limit: maxStreams }, 'control API: event stream limit reached, refusing another');
        sendError(res, 503, 'LIMIT_REACHED', `at most ${maxStreams} event streams at once`, { 'retry-after': '5' });
        return;
      }
      const stream = openEventStream(res, {
        subscribe: (fn) => control.subscribe(fn),
        clock,
        heartbeatMs: options.heartbeatMs ?? 15_000,
        maxBufferedBytes: SLOW_CLIENT_BYTES,
        onClose(reason) {
          streams.delete(stream);
          if (reason === 'slow') logger.warn({}, 'control API: event stream client not reading, disconnected');
        },
      });
      streams.add(stream);
    },
  };
  const policy: AuthPolicy = {
    token,
    unix: listen.kind === 'unix',
    allowedHosts: new Set(listen.kind === 'tcp' ? [listen.host.toLowerCase()] : []),
    changesNeedToken: !openChanges,
  };

  // requireHostHeader off: Node's own refusal of an HTTP/1.1 request without Host is an empty 400;
  // handle() refuses it with a message instead.
  const server = createServer({ keepAliveTimeout: 5000, requireHostHeader: false }, (req, res) => {
    handle(ctx, policy, req, res).catch((err: unknown) => {
      logger.error({ err, method: req.method, url: redact(req.url) }, 'control API: request handler failed');
      if (!res.headersSent) sendError(res, 500, 'INTERNAL', 'internal error');
      else res.destroy();
    });
  });
  server.maxConnections = options.maxConnections ?? 128;
  let lastDropLog = 0;
  server.on('drop', () => {
    const now = clock.now();
    if (now - lastDropLog < 60_000) return;
    lastDropLog = now;
    logger.warn({ limit: server.maxConnections }, 'control API: connection limit reached, dropping connections');
  });
  // Unanswered, Node refuses an Expect other than 100-continue with an empty 417.
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    sendError(res, 417, 'USAGE', `unsupported "Expect: ${String(req.headers.expect).slice(0, 64)}"; the control API knows only 100-continue`);
  });
  // A request Node cannot parse is answered with a JSON error; when a response to an earlier request
  // on that connection is still under way (pipelined garbage), the connection is dropped instead.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    const inFlight = (socket as Duplex & { _httpMessage?: object | null })._httpMessage;
    if (!socket.writable || (inFlight !== undefined && inFlight !== null) || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(err));
  });

  let bound: ControlTarget;
  try {
    bound = listen.kind === 'unix' ? await listenUnix(server, listen.path, listen.mode) : await listenTcp(server, listen.host, listen.port);
  } catch (err) {
    unsubscribe();
    if (server.listening) server.close();
    throw err;
  }
  const address = formatControlAddress(bound);
  logger.info({ address, auth: token === undefined ? 'none' : 'bearer token' }, 'control API listening');
  if (!openChanges) {
    logger.warn({ address }, `control API on TCP without a token: start, stop and reload are refused (${NO_TOKEN_HINT})`);
  } else if (listen.kind === 'tcp' && token === undefined) {
    logger.warn({ address }, 'control API on TCP without a token (control.insecureNoToken): every local user can start, stop and reload services');
  }
  if (exposed) logger.warn({ address }, 'control API is reachable beyond loopback; every request must carry the bearer token');

  let closing: Promise<void> | undefined;
  return {
    address,
    close() {
      closing ??= (async () => {
        unsubscribe();
        const done = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of [...streams]) s.close();
        server.closeIdleConnections();
        // An in-flight POST /start can take the whole start timeout; shutdown does not wait for it.
        const force = clock.setTimer(CLOSE_GRACE_MS, () => server.closeAllConnections());
        await done;
        force.cancel();
      })();
      return closing;
    },
  };
}

async function handle(ctx: RouteContext, policy: AuthPolicy, req: IncomingMessage, res: ServerResponse): Promise<void> {
  req.resume(); // no route reads a body; drain it so keep-alive works
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://control.invalid');
  } catch {
    return sendError(res, 400, 'USAGE', 'malformed request target');
  }
  if (req.httpVersion === '1.1' && req.headers.host === undefined) {
    return sendError(res, 400, 'USAGE', 'an HTTP/1.1 request needs a Host header, e.g. "Host: localhost"');
  }
  const verdict = authorize(req, url, policy);
  if (!verdict.ok) {
    ctx.logger.debug({ method: req.method, path: url.pathname, reason: verdict.reason }, 'control API: request refused');
    const headers: Record<string, string> = verdict.status === 401 ? { 'www-authenticate': 'Bearer realm="portwake"' } : {};
    return sendError(res, verdict.status, verdict.status === 401 ? 'UNAUTHORIZED' : 'FORBIDDEN', verdict.reason, headers);
  }
  await route(ctx, req, res, url);
}

function listenTcp(server: Server, host: string, port: number): Promise<ControlTarget> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(new PortwakeError('LISTEN_FAILED', `control API: cannot listen on ${formatControlAddress({ kind: 'tcp', host, port })}: ${err.message}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      const a = server.address();
      resolve({ kind: 'tcp', host, port: typeof a === 'object' && a !== null ? a.port : port });
    });
  });
}

async function listenUnix(server: Server, path: string, mode: number): Promise<ControlTarget> {
  await ensureSocketDirectory(path);
  const bind = (): Promise<void> => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    await bind();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw listenFailed(path, err);
    // The services' listeners' probe: a live socket is never unlinked, a busy one included.
    await removeStaleSocket(path, (reason, cause) =>
      new PortwakeError('LISTEN_FAILED', `control API: cannot listen on unix:${path}: ${reason}${cause === undefined && /in use/.test(reason) ? ' (is portwake already running?)' : ''}`, { cause }));
    try {
      await bind();
    } catch (again) {
      throw listenFailed(path, again);
    }
  }
  await chmod(path, mode);
  return { kind: 'unix', path };
}

function listenFailed(path: string, err: unknown): PortwakeError {
  const why = err instanceof Error ? err.message : String(err);
  return new PortwakeError('LISTEN_FAILED', `control API: cannot listen on unix:${path}: ${why}`, { cause: err });
}

/** The raw response to a request that could not be parsed: 431 for oversized headers, else 400. */
function clientErrorResponse(err: NodeJS.ErrnoException): string {
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const why = err.message.replace(/^Parse Error: /, '');
  const message = tooLarge ? 'request headers too large' : `malformed HTTP request: ${why}${err.code === undefined ? '' : ` (${err.code})`}`;
  const body = `${toJson({ error: { code: 'USAGE', message } }, 2)}\n`;
  return `HTTP/1.1 ${tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request'}\r\ncontent-type: application/json; charset=utf-8\r\n`
    + `content-length: ${Buffer.byteLength(body)}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n${body}`;
}

/** Request target without the query, which may hold `?token=`. */
function redact(url: string | undefined): string {
  return (url ?? '').split('?')[0] ?? '';
}
