// A download that a test keeps in flight on purpose: an HTTP/1.0 GET on a raw socket, read one chunk
// at a time with pauses between (so portwake's backpressure holds the transfer open), until the
// test lets it run at full speed. Reports exactly how many body bytes arrived and how it ended.

import net from 'node:net';
import type { TestContext } from 'node:test';

export interface DownloadEnd {
  status: number;
  /** Body bytes received. */
  bytes: number;
  /** The Content-Length the server announced (undefined when none). */
  contentLength: number | undefined;
  /** Every announced byte arrived and the server closed normally. */
  complete: boolean;
  /** 'end' (the server closed), or the socket error code. */
  how: string;
  at: number;
}

export interface SlowDownload {
  /** Body bytes received so far. */
  readonly bytes: () => number;
  /** Stop pausing between chunks: read at full speed from now on. */
  fast(): void;
  /** Stop reading altogether (the transfer stalls until fast()). */
  stall(): void;
  readonly done: Promise<DownloadEnd>;
}

export interface SlowDownloadOptions {
  /** Pause after each chunk this long (default 50 ms). */
  pauseMs?: number;
  /** Resolve only once this many body bytes have arrived (default 1). */
  startedAfterBytes?: number;
  /** Deadline for the start (headers and the first bytes; covers a cold start). Default 30 s. */
  timeoutMs?: number;
}

/**
 * Starts `GET path` to the target and resolves once the body has begun to arrive. The socket is
 * destroyed when the test ends.
 */
export function slowDownload(t: TestContext, target: net.NetConnectOpts, path: string, o: SlowDownloadOptions = {}): Promise<SlowDownload> {
  const pauseMs = o.pauseMs ?? 50;
  const startedAfter = o.startedAfterBytes ?? 1;
  const socket = net.connect(target);
  t.after(() => { socket.destroy(); });
  let mode: 'slow' | 'fast' | 'stalled' = 'slow';
  let head = Buffer.alloc(0);
  let status = 0;
  let contentLength: number | undefined;
  let headerDone = false;
  let body = 0;
  let how = 'end';
  let resume: NodeJS.Timeout | undefined;

  return new Promise((resolveStarted, rejectStarted) => {
    let started = false;
    const startTimer = setTimeout(() => {
      if (!started) rejectStarted(new Error(`GET ${path}: the body did not start within ${o.timeoutMs ?? 30_000}ms`));
      socket.destroy();
    }, o.timeoutMs ?? 30_000);

    const done = new Promise<DownloadEnd>((resolveDone) => {
      socket.on('error', (e: NodeJS.ErrnoException) => { how = e.code ?? e.message; });
      socket.once('close', () => {
        clearTimeout(startTimer);
        if (resume !== undefined) clearTimeout(resume);
        const end: DownloadEnd = { status, bytes: body, contentLength, complete: how === 'end' && contentLength !== undefined && body === contentLength, how, at: Date.now() };
        if (!started) rejectStarted(new Error(`GET ${path}: the connection ended before the body started (${how}, status ${status})`));
        resolveDone(end);
      });
    });

    socket.once('connect', () => socket.write(`GET ${path} HTTP/1.0\r\nHost: test\r\n\r\n`));
    socket.on('data', (chunk: Buffer) => {
      if (!headerDone) {
        head = Buffer.concat([head, chunk]);
        const end = head.indexOf('\r\n\r\n');
        if (end === -1) return;
        headerDone = true;
        const text = head.subarray(0, end).toString('latin1');
        status = Number(/^HTTP\/1\.\d (\d{3})/.exec(text)?.[1] ?? 0);
        const len = /\r\ncontent-length: *(\d+)/i.exec(text)?.[1];
        contentLength = len === undefined ? undefined : Number(len);
        body += head.length - end - 4;
        head = Buffer.alloc(0);
      } else {
        body += chunk.length;
      }
      if (!started && body >= startedAfter) {
        started = true;
        clearTimeout(startTimer);
        resolveStarted(download);
      }
      if (mode === 'fast') return;
      socket.pause();
      if (mode === 'slow') resume = setTimeout(() => { if (mode !== 'stalled') socket.resume(); }, pauseMs);
    });
    socket.on('end', () => undefined);

    const download: SlowDownload = {
      bytes: () => body,
      fast() {
        mode = 'fast';
        socket.resume();
      },
      stall() {
        mode = 'stalled';
        socket.pause();
      },
      done,
    };
  });
}
