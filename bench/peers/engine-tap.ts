// A transparent tap in front of the engine's unix socket: bytes pass through unchanged (hijacked
// attach streams included) while each HTTP request's arrival and its response's first byte are
// timestamped on the bench's clock. It tells how long each contender's own `POST …/start` took,
// so the engine's start time (the noisy part of a cold start) can be taken out per round.

import net from 'node:net';
import { rmSync } from 'node:fs';

export interface EngineCall {
  method: string;
  path: string;
  /** performance.now() when the request's first bytes reached the tap. */
  sentAt: number;
  /** performance.now() when the response's status line came back; undefined: not yet. */
  answeredAt: number | undefined;
  status: number | undefined;
}

export interface EngineTap {
  socketPath: string;
  dockerHost: string;
  calls: EngineCall[];
  /** The calls sent within [from, to]. */
  between(from: number, to: number): EngineCall[];
  close(): Promise<void>;
}

const REQUEST_LINE = /^(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP\/1\.[01]\r\n/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})/;

export async function startEngineTap(socketPath: string, engineSocket: string): Promise<EngineTap> {
  rmSync(socketPath, { force: true });
  const calls: EngineCall[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const engine = net.connect({ path: engineSocket });
    sockets.add(client);
    sockets.add(engine);
    const pending: EngineCall[] = [];
    client.on('data', (chunk: Buffer) => {
      const m = REQUEST_LINE.exec(chunk.toString('latin1', 0, Math.min(chunk.length, 512)));
      if (m !== null) {
        const call: EngineCall = { method: m[1] ?? '', path: (m[2] ?? '').replace(/^\/v[\d.]+/, ''), sentAt: performance.now(), answeredAt: undefined, status: undefined };
        calls.push(call);
        pending.push(call);
      }
      engine.write(chunk);
    });
    engine.on('data', (chunk: Buffer) => {
      const m = STATUS_LINE.exec(chunk.toString('latin1', 0, Math.min(chunk.length, 32)));
      if (m !== null) {
        const call = pending.shift();
        if (call !== undefined) {
          call.answeredAt = performance.now();
          call.status = Number(m[1]);
        }
      }
      client.write(chunk);
    });
    client.on('end', () => engine.end());
    engine.on('end', () => client.end());
    const drop = (): void => {
      client.destroy();
      engine.destroy();
      sockets.delete(client);
      sockets.delete(engine);
    };
    client.on('error', drop);
    engine.on('error', drop);
    client.on('close', drop);
    engine.on('close', drop);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  return {
    socketPath,
    dockerHost: `unix://${socketPath}`,
    calls,
    between: (from, to) => calls.filter((c) => c.sentAt >= from && c.sentAt <= to),
    close: () => new Promise((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
