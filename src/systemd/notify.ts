// sd_notify: tells the service manager that portwake is ready, how its services are doing, that it
// is stopping, and that it is alive (watchdog). Without NOTIFY_SOCKET nothing is sent and nothing fails.

import { describe } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import {
  addonTransport,
  loadDgramAddon,
  systemdNotifyTransport,
  type DgramAddon,
  type NotifyTransport,
  type SystemdNotifyOptions,
} from './notify-transports.ts';

/**
 * Fire-and-forget: the methods never throw and never block. Messages go out one at a time in
 * call order; a failed send is logged as a warning (once until a send succeeds again) and dropped.
 */
export interface Notifier {
  /** READY=1 — every listener is bound. */
  ready(): void;
  /** STATUS=text (newlines become spaces). */
  status(text: string): void;
  /** STOPPING=1 — shutdown has begun. */
  stopping(): void;
  /** WATCHDOG=1 — the event loop is alive. */
  watchdog(): void;
  /** Resolves when every message sent so far is delivered or dropped. Never rejects. */
  flush(): Promise<void>;
}

export const noopNotifier: Notifier = {
  ready: () => undefined,
  status: () => undefined,
  stopping: () => undefined,
  watchdog: () => undefined,
  flush: () => Promise.resolve(),
};

/** A Notifier over any transport; messages are serialised so READY=1 cannot overtake STATUS= or follow STOPPING=1. */
export class TransportNotifier implements Notifier {
  private queue: Promise<void> = Promise.resolve();
  private failing = false;

  constructor(
    private readonly transport: NotifyTransport,
    private readonly logger: Logger,
  ) {}

  ready(): void {
    this.send(['READY=1']);
  }

  status(text: string): void {
    this.send([`STATUS=${text.replace(/[\r\n]+/g, ' ')}`]);
  }

  stopping(): void {
    this.send(['STOPPING=1']);
  }

  watchdog(): void {
    this.send(['WATCHDOG=1']);
  }

  flush(): Promise<void> {
    return this.queue;
  }

  private send(lines: string[]): void {
    this.queue = this.queue.then(async () => {
      try {
        await this.transport.send(lines);
        this.failing = false;
      } catch (err) {
        const fields = { notify: this.transport.description, message: lines.join(' '), err: describe(err) };
        if (this.failing) this.logger.debug(fields, 'sd_notify failed again, ignoring');
        else this.logger.warn(fields, 'sd_notify failed, ignoring');
        this.failing = true;
      }
    });
  }
}

export interface CreateNotifierOptions {
  /** Loads the datagram addon; default: node-unix-socket if installed. Pass `async () => undefined` to force systemd-notify. */
  loadAddon?: () => Promise<DgramAddon | undefined>;
  systemdNotify?: SystemdNotifyOptions;
}

/**
 * The notifier for this environment: a no-op without NOTIFY_SOCKET; the addon for a filesystem
 * path when it loads; systemd-notify otherwise (abstract "@" sockets, no addon).
 */
export async function createNotifier(
  env: Readonly<Record<string, string | undefined>>,
  logger: Logger,
  options: CreateNotifierOptions = {},
): Promise<Notifier> {
  const socket = env.NOTIFY_SOCKET;
  if (socket === undefined || socket === '') return noopNotifier;
  let transport: NotifyTransport | undefined;
  if (socket.startsWith('/')) {
    const addon = await (options.loadAddon ?? loadDgramAddon)();
    if (addon !== undefined) transport = addonTransport(addon, socket);
  }
  transport ??= systemdNotifyTransport(socket, options.systemdNotify);
  logger.debug({ notify: transport.description }, 'sd_notify enabled');
  return new TransportNotifier(transport, logger);
}
