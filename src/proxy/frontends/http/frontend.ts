// The HTTP Host router: shared listeners whose requests go to the service their Host (and path)
// names, each asking that service's Backend for a lease exactly as the L4 frontend does — at once
// when it is ready; else a waiting page for a browser (`strategy: page`) or the request held until
// it is; a 503 with Retry-After when the start fails. Node's http parses; nothing here throws into
// the event loop.

import http from 'node:http';
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import type { Backend, Lease, RefusalReason } from '../../../core/backend.ts';
import { systemClock, type Clock, type TimerHandle } from '../../../core/clock.ts';
import { describe, PortwakeError, StartLimitedError } from '../../../core/errors.ts';
import type { Logger } from '../../../core/logger.ts';
import type { BoundListener, ListenTarget } from '../../accept/listen.ts';
import { ListenerSet } from '../../accept/listener-set.ts';
import { LogLimit } from '../../log-limit.ts';
import { UpstreamAgents } from './agents.ts';
import { answerSocket, answerText, forwardRequest, forwardUpgrade, type ForwardContext, type ForwardEnd } from './forward.ts';
import { clientAddress, trustList } from './headers.ts';
import type { Router } from './router.ts';
import { POLL_HEADER, REFRESH_SECONDS, waitingPage, wantsPage } from './waiting-page.ts';

/** A service as the router sees it (rebuilt on reload; the counters live in the frontend, by name). */
export interface HttpService {
  backend: Backend;
  strategy: 'block' | 'page';
  /** Requests in flight plus held; one more is answered 503 ('max_connections'). */
  maxConnections: number;
  /** Requests held while the service starts; one more is answered 503 ('max_pending'). */
  maxPending: number;
  /** How long one request may wait for the service before a 503 ('hold_timeout'). */
  holdTimeoutMs: number;
}

/** Counters per service, for status and metrics. */
export interface HttpServiceStats {
  requests: number;
  waitingPages: number;
  /** 503 answers: start failed or timed out, refused by a limit or the wake filter, shutting down. */
  unavailable: number;
  inFlight: number;
  held: number;
  upgraded: number;
}

export interface HttpTimeouts {
  /** A client must send a request's whole head within this (Node's headersTimeout). */
  headersMs: number;
  /** And the whole request within this (Node's requestTimeout); it includes time held during a start. */
  requestMs: number;
  /** An idle keep-alive client connection is closed after this. */
  keepAliveMs: number;
  /** How often the two above are checked (Node's connectionsCheckingInterval). */
  checkIntervalMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: HttpTimeouts = { headersMs: 20_000, requestMs: 300_000, keepAliveMs: 30_000, checkIntervalMs: 5_000 };
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Retry-After of a 503 whose start failed (seconds). */
const RETRY_AFTER_FAILED_S = 5;
/** A failed start is shown to waiting pages' polls for this long, then a reload tries again. */
const FAILURE_SHOWN_MS = 10_000;
const LOG_INTERVAL_MS = 10_000;

export interface HttpFrontendOptions {
  listen: readonly ListenTarget[];
  router: Router<string>;
  /** The service behind a router target (looked up per request, so a reload's services are used at once). */
  service: (name: string) => HttpService | undefined;
  trustForwarded: readonly string[];
  forwardedHeaders: boolean;
  logger: Logger;
  clock?: Clock;
  timeouts?: Partial<HttpTimeouts>;
  connectTimeoutMs?: number;
  backlog?: number;
}

/** Where a service's waiting pages stand: since when it starts, and a failure to show. */
interface PageWait {
  since: number;
  watching: boolean;
  failure: { text: string; retryAfterS: number; at: number } | undefined;
}

type State = { kind: 'new' } | { kind: 'listening' } | { kind: 'closing'; done: Promise<void> } | { kind: 'closed' };

export class HttpFrontend {
  readonly #o: HttpFrontendOptions;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #server: http.Server;
  readonly #listeners: ListenerSet;
  readonly #agents = new UpstreamAgents();
  readonly #stats = new Map<string, HttpServiceStats>();
  readonly #pages = new Map<string, PageWait>();
  /** Requests and upgrades held for a start, and waiting pages' watchers: ended at once at shutdown. */
  readonly #waits = new Set<AbortController>();
  /** Requests in flight: cut when shutdown's grace period ends. */
  readonly #exchanges = new Set<http.ServerResponse>();
  readonly #upgraded = new Set<Duplex>();
  readonly #refusalLogs: LogLimit;
  #router: Router<string>;
  #ctx: ForwardContext;
  #state: State = { kind: 'new' };
  #allGone: (() => void) | undefined;

  constructor(options: HttpFrontendOptions) {
    this.#o = options;
    this.#logger = options.logger.child({ frontend: 'http' });
    this.#clock = options.clock ?? systemClock;
    this.#refusalLogs = new LogLimit(this.#clock, LOG_INTERVAL_MS);
    this.#router = options.router;
    this.#ctx = this.#context(options.trustForwarded, options.forwardedHeaders);
    const t = { ...DEFAULT_HTTP_TIMEOUTS, ...options.timeouts };
    this.#listeners = new ListenerSet((text) => ({
      service: 'http',
      ...(options.backlog === undefined ? {} : { backlog: options.backlog }),
      onConnection: this.#onConnection,
      onError: (err) => this.#logger.warn({ listener: text, err: describe(err) }, `http: cannot accept a connection on ${text}: ${describe(err)}, ignoring`),
    }));
    this.#server = http.createServer({
      headersTimeout: t.headersMs,
      requestTimeout: t.requestMs,
      keepAliveTimeout: t.keepAliveMs,
      connectionsCheckingInterval: t.checkIntervalMs,
    });
    this.#server.on('request', (req, res) => this.#onRequest(req, res));
    // Registered so that Node does not answer 100 Continue itself: the upstream does (forward.ts).
    this.#server.on('checkContinue', (req, res) => this.#onRequest(req, res));
    this.#server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.#onUpgrade(req, socket, head));
    this.#server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => this.#onClientError(err, socket));
    // Connections come from the accept module, not from this server's own listen(): its
    // 'listening' handler sets up the tracking that headersTimeout and requestTimeout need.
    this.#server.emit('listening');
  }

  #context(trust: readonly string[], enabled: boolean): ForwardContext {
    return {
      agents: this.#agents,
      forwarded: { enabled, trusted: trustList(trust) },
      clock: this.#clock,
      connectTimeoutMs: this.#o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    };
  }

  /** The configured text of every bound listener. */
  get listeners(): string[] {
    return this.#listeners.texts;
  }

  get addresses(): BoundListener['address'][] {
    return this.#listeners.addresses;
  }

  /** A service's counters (zeros when it has seen no request). */
  stats(service: string): HttpServiceStats {
    return this.#stats.get(service) ?? { requests: 0, waitingPages: 0, unavailable: 0, inFlight: 0, held: 0, upgraded: 0 };
  }

  #statsFor(service: string): HttpServiceStats {
    let s = this.#stats.get(service);
    if (s === undefined) {
      s = { requests: 0, waitingPages: 0, unavailable: 0, inFlight: 0, held: 0, upgraded: 0 };
      this.#stats.set(service, s);
    }
    return s;
  }

  /** A reload: new routes and forwarding settings for the requests from now on. */
  update(router: Router<string>, trustForwarded: readonly string[], forwardedHeaders: boolean): void {
    this.#router = router;
    this.#ctx = this.#context(trustForwarded, forwardedHeaders);
  }

  /** Binds every listen target (all or nothing: on a failure those bound are closed and it throws). */
  async listen(): Promise<void> {
    if (this.#state.kind !== 'new') throw new Error(`the HTTP router is ${this.#state.kind}, cannot listen`);
    this.#state = { kind: 'listening' };
    try {
      await this.#listeners.bindEach(this.#o.listen, () => this.#state.kind === 'listening');
    } catch (err) {
      await this.close({ graceMs: 0 });
      throw err;
    }
  }

  /** Binds more addresses (a reload); all or nothing. */
  bind(targets: readonly ListenTarget[]): Promise<BoundListener[]> {
    return this.#listeners.bind(targets);
  }

  /** Closes the listeners whose text matches (a reload dropping them). */
  async unbind(match: (text: string) => boolean): Promise<void> {
    await Promise.all(this.#listeners.detach((l) => match(l.text)).map((l) => l.close()));
  }

  #onConnection = (socket: net.Socket): void => {
    if (this.#state.kind === 'closing' || this.#state.kind === 'closed') {
      socket.destroy();
      return;
    }
    socket.on('error', () => socket.destroy());
    this.#server.emit('connection', socket);
    socket.resume();
  };

  /** Garbage, an oversized head, or a head not sent in time: a 400/408/431 when possible, then closed. */
  #onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    this.#logger.debug({ err: err.code ?? err.message }, `http: closing a client connection: ${err.code ?? err.message}`);
    if (!socket.writable || err.code === 'ECONNRESET') {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    socket.destroy();
  }

  // ---- requests ----

  #onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const name = this.#router.lookup(req.headers.host, req.url);
    const service = name === undefined ? undefined : this.#o.service(name);
    if (name === undefined || service === undefined) {
      answerText(res, 404, `portwake: no service for host ${JSON.stringify(req.headers.host ?? '')}`);
      req.resume();
      return;
    }
    const stats = this.#statsFor(name);
    if (req.headers[POLL_HEADER] !== undefined) {
      this.#answerPoll(name, service, res);
      req.resume();
      return;
    }
    stats.requests += 1;
    this.#serve(req, res, name, service, true);
  }

  /** Lease now, waiting page, or hold; `retry`: one more try after the upstream failed to connect. */
  #serve(req: http.IncomingMessage, res: http.ServerResponse, name: string, service: HttpService, retry: boolean): void {
    const stats = this.#statsFor(name);
    const admitted = this.#admit(service, stats);
    if (typeof admitted === 'string') {
      this.#unavailable(res, name, service, admitted, admitted === 'shutting_down' ? 'portwake is shutting down' : `too many requests for service "${name}" (${admitted})`, 1);
      return;
    }
    if (admitted !== undefined) {
      this.#pages.delete(name);
      this.#forward(req, res, name, service, admitted, retry);
      return;
    }
    const backend = service.backend;
    if (!backend.mayWake({ source: clientAddress(req.socket.remoteAddress), ...(req.method === undefined ? {} : { method: req.method }), path: req.url ?? '/', ...(req.headers['user-agent'] === undefined ? {} : { userAgent: req.headers['user-agent'] }) })) {
      this.#unavailable(res, name, service, 'wake_refused', `service "${name}" is not running and this request may not start it`, RETRY_AFTER_FAILED_S);
      return;
    }
    backend.prepare();
    if (service.strategy === 'page' && wantsPage(req.method, req.headers.accept)) {
      this.#sendPage(req, res, name, service);
      return;
    }
    if (stats.held >= service.maxPending) {
      this.#unavailable(res, name, service, 'max_pending', `too many requests waiting for service "${name}" to start (maxPending)`, RETRY_AFTER_FAILED_S);
      return;
    }
    this.#hold(service, stats, (signal) => backend.acquire(signal), res, (lease) => this.#forward(req, res, name, service, lease, retry), (reason, text, retryAfterS) => {
      this.#unavailable(res, name, service, reason, text, retryAfterS);
    });
  }

  /** Refused (a reason), a lease (ready now), or undefined (the service must start first). */
  #admit(service: HttpService, stats: HttpServiceStats): Lease | RefusalReason | undefined {
    if (this.#state.kind !== 'listening') return 'shutting_down';
    if (stats.inFlight + stats.held >= service.maxConnections) return 'max_connections';
    return service.backend.tryAcquire();
  }

  /**
   * Waits for a lease on behalf of a request or an upgrade: until the service is ready (then
   * `onLease`), the start fails, holdTimeout passes or the client goes away (then `onFail`,
   * unless the client is gone).
   */
  #hold(service: HttpService, stats: HttpServiceStats, acquire: (signal: AbortSignal) => Promise<Lease>, closed: { once(e: 'close', fn: () => void): unknown }, onLease: (lease: Lease) => void, onFail: (reason: RefusalReason, text: string, retryAfterS: number) => void): void {
    const backend = service.backend;
    const controller = new AbortController();
    let timedOut = false;
    stats.held += 1;
    backend.setHeld(+1);
    this.#waits.add(controller);
    const timer: TimerHandle = this.#clock.setTimer(service.holdTimeoutMs, () => {
      timedOut = true;
      controller.abort(new PortwakeError('ABORTED', `not ready within ${service.holdTimeoutMs}ms (holdTimeout)`));
    });
    let gone = false;
    closed.once('close', () => {
      gone = true;
      controller.abort(new PortwakeError('ABORTED', 'the client went away'));
    });
    const done = (): void => {
      timer.cancel();
      stats.held -= 1;
      backend.setHeld(-1);
      this.#waits.delete(controller);
    };
    acquire(controller.signal).then((lease) => {
      done();
      if (gone || this.#state.kind === 'closed') {
        lease.release();
        this.#checkAllGone();
        return;
      }
      onLease(lease);
    }, (err: unknown) => {
      done();
      if (!gone) {
        if (timedOut) onFail('hold_timeout', `service "${backend.name}" did not become ready within ${Math.round(service.holdTimeoutMs / 1000)}s`, RETRY_AFTER_FAILED_S);
        else if (controller.signal.aborted) onFail('shutting_down', 'portwake is shutting down', RETRY_AFTER_FAILED_S);
        else onFail(err instanceof StartLimitedError ? 'backing_off' : 'start_failed', `service "${backend.name}" could not start: ${describe(err)}`, retryAfter(err, this.#clock.now()));
      }
      this.#checkAllGone();
    });
  }

  #forward(req: http.IncomingMessage, res: http.ServerResponse, name: string, service: HttpService, lease: Lease, retry: boolean): void {
    const stats = this.#statsFor(name);
    stats.inFlight += 1;
    this.#exchanges.add(res);
    forwardRequest(this.#ctx, req, res, lease, (end) => {
      stats.inFlight -= 1;
      this.#exchanges.delete(res);
      this.#afterForward(end, lease, service, retry, () => this.#serve(req, res, name, service, false));
      if (end.kind === 'unconnected' && !retry) answerText(res, 502, `portwake: cannot connect to service "${name}": ${describe(end.error)}`);
      this.#checkAllGone();
    });
  }

  /** After an exchange: a connect failure is retried once (after the service re-checked its container). */
  #afterForward(end: ForwardEnd, lease: Lease, service: HttpService, retry: boolean, again: () => void): void {
    if (end.kind !== 'unconnected') return;
    if (!retry || this.#state.kind !== 'listening') {
      this.#logger.warn({ service: service.backend.name, err: describe(end.error) }, `service "${service.backend.name}": cannot connect to its upstream: ${describe(end.error)}; answering 502`);
      return;
    }
    if (!end.refused) {
      again();
      return;
    }
    void service.backend.upstreamFailed(lease.upstream, end.error).then(again);
  }

  // ---- upgrades (WebSocket) ----

  #onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const name = this.#router.lookup(req.headers.host, req.url);
    const service = name === undefined ? undefined : this.#o.service(name);
    if (name === undefined || service === undefined) {
      answerSocket(socket, 404, 'Not Found', `portwake: no service for host ${JSON.stringify(req.headers.host ?? '')}`);
      return;
    }
    this.#statsFor(name).requests += 1;
    this.#serveUpgrade(req, socket, head, name, service, true);
  }

  #serveUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer, name: string, service: HttpService, retry: boolean): void {
    const stats = this.#statsFor(name);
    const refuse = (reason: RefusalReason, text: string, retryAfterS: number): void => {
      stats.unavailable += 1;
      service.backend.refused(reason);
      answerSocket(socket, 503, 'Service Unavailable', `portwake: ${text}`, { 'Retry-After': String(retryAfterS) });
    };
    const admitted = this.#admit(service, stats);
    if (typeof admitted === 'string') {
      refuse(admitted, admitted === 'shutting_down' ? 'portwake is shutting down' : `too many requests for service "${name}" (${admitted})`, 1);
      return;
    }
    const upgrade = (lease: Lease): void => {
      stats.inFlight += 1;
      stats.upgraded += 1;
      this.#upgraded.add(socket);
      forwardUpgrade(this.#ctx, req, socket, head, lease, (end) => {
        stats.inFlight -= 1;
        stats.upgraded -= 1;
        this.#upgraded.delete(socket);
        this.#afterForward(end, lease, service, retry, () => this.#serveUpgrade(req, socket, head, name, service, false));
        if (end.kind === 'unconnected' && !retry) answerSocket(socket, 502, 'Bad Gateway', `portwake: cannot connect to service "${name}": ${describe(end.error)}`);
        this.#checkAllGone();
      });
    };
    if (admitted !== undefined) {
      upgrade(admitted);
      return;
    }
    if (!service.backend.mayWake({ source: clientAddress((socket as net.Socket).remoteAddress), ...(req.method === undefined ? {} : { method: req.method }), path: req.url ?? '/', ...(req.headers['user-agent'] === undefined ? {} : { userAgent: req.headers['user-agent'] }) })) {
      refuse('wake_refused', `service "${name}" is not running and this request may not start it`, RETRY_AFTER_FAILED_S);
      return;
    }
    service.backend.prepare();
    if (stats.held >= service.maxPending) {
      refuse('max_pending', `too many requests waiting for service "${name}" to start (maxPending)`, RETRY_AFTER_FAILED_S);
      return;
    }
    this.#hold(service, stats, (signal) => service.backend.acquire(signal), socket, upgrade, refuse);
  }

  // ---- the waiting page ----

  #sendPage(req: http.IncomingMessage, res: http.ServerResponse, name: string, service: HttpService): void {
    const wait = this.#watch(name, service);
    if (wait.failure !== undefined) {
      // The start this page waited for failed: say so once, and let the next load try again.
      const { text, retryAfterS } = wait.failure;
      this.#pages.delete(name);
      this.#unavailable(res, name, service, undefined, text, retryAfterS);
      req.resume();
      return;
    }
    this.#statsFor(name).waitingPages += 1;
    const body = waitingPage(name, this.#clock.now() - wait.since);
    res.writeHead(503, {
      'content-type': 'text/html; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'cache-control': 'no-store',
      'retry-after': String(REFRESH_SECONDS),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    req.resume();
  }

  /** 204 once the service is ready, 503 with the reason when its start failed, else 202. */
  #answerPoll(name: string, service: HttpService, res: http.ServerResponse): void {
    const lease = service.backend.tryAcquire();
    if (lease !== undefined) {
      lease.release();
      this.#pages.delete(name);
      res.writeHead(204, { 'cache-control': 'no-store' }).end();
      return;
    }
    const wait = this.#watch(name, service);
    if (wait.failure !== undefined) {
      answerText(res, 503, wait.failure.text, { 'retry-after': String(wait.failure.retryAfterS) });
      if (this.#clock.now() - wait.failure.at > FAILURE_SHOWN_MS) this.#pages.delete(name);
      return;
    }
    service.backend.prepare();
    answerText(res, 202, `starting service "${name}"`);
  }

  /** The wait a service's pages show; the first page of a start follows that start to learn of a failure. */
  #watch(name: string, service: HttpService): PageWait {
    let wait = this.#pages.get(name);
    if (wait === undefined) {
      wait = { since: this.#clock.now(), watching: false, failure: undefined };
      this.#pages.set(name, wait);
    }
    if (!wait.watching && wait.failure === undefined && this.#state.kind === 'listening') {
      const w = wait;
      w.watching = true;
      const controller = new AbortController();
      this.#waits.add(controller);
      const timer = this.#clock.setTimer(service.holdTimeoutMs, () => controller.abort(new PortwakeError('ABORTED', `not ready within ${Math.round(service.holdTimeoutMs / 1000)}s`)));
      service.backend.acquire(controller.signal).then((lease) => {
        lease.release();
        if (this.#pages.get(name) === w) this.#pages.delete(name);
      }, (err: unknown) => {
        w.failure = { text: `service "${name}" could not start: ${describe(err)}`, retryAfterS: retryAfter(err, this.#clock.now()), at: this.#clock.now() };
      }).finally(() => {
        w.watching = false;
        timer.cancel();
        this.#waits.delete(controller);
        this.#checkAllGone();
      });
    }
    return wait;
  }

  /** A 503 with Retry-After and a one-line reason; `reason` is counted as a refusal by the service. */
  #unavailable(res: http.ServerResponse, name: string, service: HttpService, reason: RefusalReason | undefined, text: string, retryAfterS: number): void {
    this.#statsFor(name).unavailable += 1;
    if (reason !== undefined) service.backend.refused(reason);
    const suppressed = reason === 'wake_refused' ? undefined : this.#refusalLogs.take();
    if (suppressed !== undefined) this.#logger.debug({ service: name, reason }, `service "${name}": answering 503: ${text}`);
    answerText(res, 503, `portwake: ${text}`, { 'retry-after': String(retryAfterS) });
  }

  // ---- shutdown ----

  /**
   * Stops accepting; requests held for a start are answered 503 at once; requests in flight and
   * upgraded connections may finish for up to graceMs, then are cut. Idempotent.
   */
  close(options: { graceMs: number }): Promise<void> {
    const state = this.#state;
    if (state.kind === 'closing') return state.done;
    if (state.kind === 'closed') return Promise.resolve();
    const closing: State & { kind: 'closing' } = { kind: 'closing', done: Promise.resolve() };
    this.#state = closing;
    closing.done = (async () => {
      await this.#listeners.closeAll();
      // Idle keep-alive connections go now; those with a request in flight once it is answered.
      this.#server.close();
      this.#server.closeIdleConnections();
      for (const w of [...this.#waits]) w.abort(new PortwakeError('ABORTED', 'portwake is shutting down'));
      const gone = new Promise<void>((resolve) => { this.#allGone = resolve; });
      const timer = this.#clock.setTimer(options.graceMs, () => {
        for (const res of [...this.#exchanges]) res.destroy();
        for (const s of [...this.#upgraded]) s.destroy();
        this.#server.closeAllConnections();
      });
      this.#checkAllGone();
      await gone;
      timer.cancel();
      this.#server.closeAllConnections();
      this.#agents.destroy();
      this.#state = { kind: 'closed' };
    })();
    return closing.done;
  }

  #checkAllGone(): void {
    if (this.#state.kind !== 'closing' || this.#allGone === undefined) return;
    let busy = this.#upgraded.size;
    for (const s of this.#stats.values()) busy += s.inFlight + s.held;
    if (busy === 0 && [...this.#pages.values()].every((w) => !w.watching)) this.#allGone();
  }
}

/** Seconds a client should wait before trying again after a failed start. */
function retryAfter(err: unknown, now: number): number {
  if (err instanceof StartLimitedError) return Math.max(1, Math.ceil((err.until - now) / 1000));
  return RETRY_AFTER_FAILED_S;
}
