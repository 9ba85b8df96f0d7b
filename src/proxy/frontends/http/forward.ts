// One request (or one Upgrade) forwarded to a leased upstream. The lease is held for as long as
// the exchange is in flight — a request until its response has ended or the client went away, an
// upgraded connection until both of its sides have closed — and released exactly once.

import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Lease } from '../../../core/backend.ts';
import type { Clock } from '../../../core/clock.ts';
import { describe } from '../../../core/errors.ts';
import { upstreamTarget, type UpstreamAgents } from './agents.ts';
import { clientAddress, requestHeaders, responseHeaders, type ForwardedPolicy } from './headers.ts';

export interface ForwardContext {
  agents: UpstreamAgents;
  forwarded: ForwardedPolicy;
  clock: Clock;
  connectTimeoutMs: number;
}

/**
 * How an exchange ended. 'unconnected': the upstream could not be reached (or a reused idle
 * connection of it failed) before any byte of the request body was taken and before any answer:
 * the caller may try again. `refused` tells a failed connect (the app may be gone: ask the
 * service to re-check) from a reused connection that failed.
 */
export type ForwardEnd =
  | { kind: 'done'; error?: Error }
  | { kind: 'unconnected'; error: Error; refused: boolean };

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOENT', 'ETIMEDOUT', 'ECONNABORTED']);

function errorCode(err: Error): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** Answers a plain-text error unless an answer has begun; then the client connection is cut. */
export function answerText(res: http.ServerResponse, status: number, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(`${text}\n`);
}

/** Forwards req to the lease's upstream and streams the answer to res; calls onEnd once, after releasing the lease. */
export function forwardRequest(ctx: ForwardContext, req: http.IncomingMessage, res: http.ServerResponse, lease: Lease, onEnd: (end: ForwardEnd) => void): void {
  let ended = false;
  let bodyTaken = false;
  let answered = false;
  let responseDone = false;
  let connectTimer: { cancel(): void } | undefined;
  const finish = (end: ForwardEnd): void => {
    if (ended) return;
    ended = true;
    connectTimer?.cancel();
    lease.onRevoke = undefined;
    lease.release();
    onEnd(end);
  };
  const client = clientAddress(req.socket.remoteAddress);
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined;
  const upstreamReq = http.request({
    ...upstreamTarget(lease.upstream),
    agent: ctx.agents.get(lease.upstream),
    method: req.method,
    path: req.url,
    headers: requestHeaders(req.rawHeaders, client, ctx.forwarded, false),
    setHost: false,
  });
  const startBody = (): void => {
    if (ended || bodyTaken) return;
    bodyTaken = true;
    req.on('data', (chunk: Buffer) => { lease.bytesIn += chunk.length; });
    req.pipe(upstreamReq);
  };
  upstreamReq.on('socket', (socket) => {
    if (!socket.connecting) {
      // A reused keep-alive connection: a request without a body can still be retried if it fails.
      if (hasBody) startBody();
      else upstreamReq.end();
      return;
    }
    connectTimer = ctx.clock.setTimer(ctx.connectTimeoutMs, () => {
      upstreamReq.destroy(Object.assign(new Error(`connect timed out after ${ctx.connectTimeoutMs}ms`), { code: 'ETIMEDOUT' }));
    });
    socket.once('connect', () => {
      connectTimer?.cancel();
      if (hasBody) startBody();
      else upstreamReq.end();
    });
  });
  upstreamReq.on('continue', () => {
    if (!res.headersSent) res.writeContinue();
  });
  upstreamReq.on('response', (upstreamRes) => {
    answered = true;
    upstreamRes.on('data', (chunk: Buffer) => { lease.bytesOut += chunk.length; });
    upstreamRes.on('end', () => { responseDone = true; });
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, responseHeaders(upstreamRes.rawHeaders));
    upstreamRes.pipe(res);
    upstreamRes.on('error', () => res.destroy());
  });
  upstreamReq.on('error', (err) => {
    if (ended) return;
    const code = errorCode(err);
    const connectFailed = !answered && !bodyTaken && code !== undefined && CONNECT_ERRORS.has(code);
    const reusedFailed = !answered && !bodyTaken && (code === 'ECONNRESET' || code === 'EPIPE') && upstreamReq.reusedSocket;
    if (connectFailed || reusedFailed) {
      finish({ kind: 'unconnected', error: err, refused: connectFailed });
      return;
    }
    if (answered) res.destroy();
    else answerText(res, 502, `portwake: the upstream of this service failed: ${describe(err)}`);
    finish({ kind: 'done', error: err });
  });
  res.on('close', () => {
    if (!responseDone) upstreamReq.destroy();
    finish({ kind: 'done' });
  });
  if (lease.revoked) {
    upstreamReq.destroy();
    res.destroy();
    return;
  }
  lease.onRevoke = () => {
    upstreamReq.destroy();
    res.destroy();
  };
}

/** The status line and headers of a raw HTTP/1.1 answer written to an upgraded socket. */
function rawHead(status: number, message: string | undefined, raw: readonly string[]): string {
  let head = `HTTP/1.1 ${status} ${message ?? ''}\r\n`;
  for (let i = 0; i < raw.length; i += 2) head += `${raw[i] ?? ''}: ${raw[i + 1] ?? ''}\r\n`;
  return `${head}\r\n`;
}

/** A plain-text answer on a socket whose request asked for an Upgrade; the socket is then closed. */
export function answerSocket(socket: Duplex, status: number, message: string, text: string, headers: Record<string, string> = {}): void {
  const body = Buffer.from(`${text}\n`);
  const raw = Object.entries({ 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(body.length), Connection: 'close', ...headers }).flat();
  if (socket.writable) socket.end(Buffer.concat([Buffer.from(rawHead(status, message, raw)), body]));
  else socket.destroy();
}

/**
 * Forwards an Upgrade request (a WebSocket handshake): on the upstream's 101 its head goes to the
 * client and the two sockets are piped both ways, holding the lease until both have closed; any
 * other answer is relayed and the client closed.
 */
export function forwardUpgrade(ctx: ForwardContext, req: http.IncomingMessage, socket: Duplex, head: Buffer, lease: Lease, onEnd: (end: ForwardEnd) => void): void {
  let ended = false;
  let answered = false;
  let upstreamSocket: Duplex | undefined;
  const finish = (end: ForwardEnd): void => {
    if (ended) return;
    ended = true;
    lease.onRevoke = undefined;
    lease.release();
    onEnd(end);
  };
  const closeBoth = (): void => {
    socket.destroy();
    upstreamSocket?.destroy();
    upstreamReq.destroy();
  };
  const client = clientAddress((socket as { remoteAddress?: string }).remoteAddress);
  const upstreamReq = http.request({
    ...upstreamTarget(lease.upstream),
    agent: false,
    method: req.method,
    path: req.url,
    headers: requestHeaders(req.rawHeaders, client, ctx.forwarded, true),
    setHost: false,
    timeout: ctx.connectTimeoutMs,
  });
  upstreamReq.on('timeout', () => upstreamReq.destroy(Object.assign(new Error(`no answer within ${ctx.connectTimeoutMs}ms`), { code: 'ETIMEDOUT' })));
  upstreamReq.on('upgrade', (upstreamRes, upSocket, upHead) => {
    answered = true;
    upstreamSocket = upSocket;
    upSocket.setTimeout(0);
    socket.write(rawHead(upstreamRes.statusCode ?? 101, upstreamRes.statusMessage, upstreamRes.rawHeaders));
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    let open = 2;
    const sideClosed = (): void => {
      open -= 1;
      if (open === 0) finish({ kind: 'done' });
    };
    socket.on('data', (chunk: Buffer) => { lease.bytesIn += chunk.length; });
    upSocket.on('data', (chunk: Buffer) => { lease.bytesOut += chunk.length; });
    socket.pipe(upSocket);
    upSocket.pipe(socket);
    socket.on('error', () => upSocket.destroy());
    upSocket.on('error', () => socket.destroy());
    socket.once('close', () => { upSocket.destroy(); sideClosed(); });
    upSocket.once('close', () => { socket.destroy(); sideClosed(); });
  });
  upstreamReq.on('response', (upstreamRes) => {
    // The upstream declined the upgrade: its answer goes to the client as it is, then both close.
    answered = true;
    socket.write(rawHead(upstreamRes.statusCode ?? 502, upstreamRes.statusMessage, upstreamRes.rawHeaders));
    upstreamRes.pipe(socket);
    upstreamRes.on('end', () => socket.end());
    upstreamRes.on('error', () => socket.destroy());
    socket.once('close', () => finish({ kind: 'done' }));
  });
  upstreamReq.on('error', (err) => {
    if (ended || answered) {
      socket.destroy();
      return;
    }
    const code = errorCode(err);
    if (code !== undefined && CONNECT_ERRORS.has(code)) {
      finish({ kind: 'unconnected', error: err, refused: true });
      return;
    }
    answerSocket(socket, 502, 'Bad Gateway', `portwake: the upstream of this service failed: ${describe(err)}`);
    finish({ kind: 'done', error: err });
  });
  socket.once('close', () => {
    if (!answered) {
      upstreamReq.destroy();
      finish({ kind: 'done' });
    }
  });
  socket.on('error', () => socket.destroy());
  if (lease.revoked) {
    closeBoth();
    return;
  }
  lease.onRevoke = closeBoth;
  upstreamReq.end();
}
