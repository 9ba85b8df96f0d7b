// How an sd_notify datagram reaches NOTIFY_SOCKET. Node 20 has no Unix datagram sockets, so either
// the optional node-unix-socket addon sends it from portwake's own PID, or systemd-notify(1) does
// (from its own PID: the unit needs NotifyAccess=all; it waits for the manager to take the message).

import { spawn } from 'node:child_process';

export interface NotifyTransport {
  /** For logs: "node-unix-socket → /run/systemd/notify". */
  readonly description: string;
  /** Sends one datagram of newline-separated VAR=VALUE lines; rejects with what went wrong. */
  send(lines: readonly string[]): Promise<void>;
}

/** The part of node-unix-socket's API used here. */
export interface DgramSocketLike {
  sendTo(buf: Buffer, offset: number, length: number, destPath: string, onWrite?: (err: Error | undefined) => void): void;
  close(): void;
}
export interface DgramAddon {
  DgramSocket: new () => DgramSocketLike;
}

/** Loads node-unix-socket, or resolves undefined when it is not installed or cannot load here. */
export async function loadDgramAddon(): Promise<DgramAddon | undefined> {
  // A variable specifier: the package is optional, so the type check must not depend on it.
  const specifier = 'node-unix-socket';
  try {
    const mod = (await import(specifier)) as Partial<DgramAddon>;
    return typeof mod.DgramSocket === 'function' ? { DgramSocket: mod.DgramSocket } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Sends through the addon. A socket per message: an open addon socket keeps the event loop
 * alive, and messages are rare (status changes, a watchdog ping every few seconds).
 * Filesystem paths only: the addon cannot address abstract (@) sockets.
 */
export function addonTransport(addon: DgramAddon, path: string): NotifyTransport {
  return {
    description: `node-unix-socket → ${path}`,
    send: (lines) =>
      new Promise<void>((resolve, reject) => {
        const buf = Buffer.from(lines.join('\n'));
        const socket = new addon.DgramSocket();
        try {
          socket.sendTo(buf, 0, buf.length, path, (err) => {
            socket.close();
            if (err === undefined || err === null) resolve();
            else reject(err);
          });
        } catch (err) {
          socket.close();
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }),
  };
}

export interface SystemdNotifyOptions {
  /** The systemd-notify binary; default "systemd-notify" from PATH. */
  command?: string;
  /** Kill it after this long (it waits for the manager to acknowledge). Default 5 s. */
  timeoutMs?: number;
}

/** Sends by running `systemd-notify VAR=VALUE…` with NOTIFY_SOCKET set. Any address systemd-notify understands. */
export function systemdNotifyTransport(socket: string, options: SystemdNotifyOptions = {}): NotifyTransport {
  const command = options.command ?? 'systemd-notify';
  const timeoutMs = options.timeoutMs ?? 5_000;
  return {
    description: `${command} → ${socket}`,
    send: (lines) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(command, [...lines], {
          env: { NOTIFY_SOCKET: socket },
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: timeoutMs,
        });
        let stderr = '';
        child.stderr.setEncoding('utf8');
        child.stderr.on('data', (chunk: string) => {
          if (stderr.length < 1_000) stderr += chunk;
        });
        child.once('error', (err) => reject(new Error(`cannot run ${command}: ${err.message}`, { cause: err })));
        child.once('close', (code, signal) => {
          if (code === 0) {
            resolve();
            return;
          }
          const how = signal === null ? `exited with code ${code ?? '?'}` : `was killed by ${signal}${signal === 'SIGTERM' ? ` after ${timeoutMs} ms` : ''}`;
          reject(new Error(`${command} ${how}${stderr.trim() === '' ? '' : `: ${stderr.trim()}`}`));
        });
      }),
  };
}
