// sd_notify: tells the service manager that portwake is ready, how its services are doing, that it
// is stopping, and that it is alive (watchdog). Without NOTIFY_SOCKET nothing is sent and nothing fails.

import { systemClock, type Clock, type TimerHandle } from '../core/clock.ts';
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

/** STATUS= lines go out at most this often (latest wins): each may cost a systemd-notify process. */
export const STATUS_INTERVAL_MS = 250;

type MessageKind = 'ready' | 'status' | 'watchdog' | 'stopping';

/**
 * A Notifier over any transport. Messages are serialised so READY=1 cannot overtake STATUS= or
 * follow STOPPING=1. The queue is bounded by construction: at most one message of each kind waits
 * (a second WATCHDOG=1 joins the waiting one; a new STATUS= replaces the waiting text), and STATUS=
 * is sent at most every STATUS_INTERVAL_MS — a burst of state changes costs one or two sends,
 * not one process each.
 */
export class TransportNotifier implements Notifier {
  /** Kinds waiting to be sent, in call order; never two of a kind. */
  private readonly waiting: MessageKind[] = [];
  /** The latest STATUS= text, sent when the waiting 'status' is. */
  private statusText = '';
  private lastStatusAt: number | undefined;
  /** Armed while only a STATUS= not yet due waits. */
  private statusTimer: TimerHandle | undefined;
  /** The sender loop while it runs. */
  private pumping: Promise<void> | undefined;
  /** flush() asked for everything now: a STATUS= waits for no interval. */
  private flushing = false;
  private failing = false;

  constructor(
    private readonly transport: NotifyTransport,
    private readonly logger: Logger,
    private readonly clock: Clock = systemClock,
  ) {}

  ready(): void {
    this.enqueue('ready');
  }

  status(text: string): void {
    this.statusText = text.replace(/[\r\n]+/g, ' ');
    this.enqueue('status');
  }

  stopping(): void {
    this.enqueue('stopping');
  }

  watchdog(): void {
    this.enqueue('watchdog');
  }

  async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.waiting.length > 0 || this.pumping !== undefined) {
        this.statusTimer?.cancel();
        this.statusTimer = undefined;
        await (this.pumping ?? this.pump());
      }
    } finally {
      this.flushing = false;
    }
  }

  private enqueue(kind: MessageKind): void {
    if (!this.waiting.includes(kind)) this.waiting.push(kind);
    if (this.pumping !== undefined) return;
    this.statusTimer?.cancel();
    this.statusTimer = undefined;
    void this.pump();
  }

  /** Sends what is due, one message at a time; arms statusTimer when only an early STATUS= is left. */
  private pump(): Promise<void> {
    const run = async (): Promise<void> => {
      for (;;) {
        const i = this.waiting.findIndex((k) => k !== 'status' || this.statusDueIn() === 0);
        if (i === -1) break;
        const [kind] = this.waiting.splice(i, 1);
        if (kind === undefined) break;
        if (kind === 'status') this.lastStatusAt = this.clock.now();
        await this.sendNow([kind === 'ready' ? 'READY=1' : kind === 'stopping' ? 'STOPPING=1' : kind === 'watchdog' ? 'WATCHDOG=1' : `STATUS=${this.statusText}`]);
      }
      this.pumping = undefined;
      if (this.waiting.length > 0 && this.statusTimer === undefined && !this.flushing) {
        this.statusTimer = this.clock.setTimer(this.statusDueIn(), () => {
          this.statusTimer = undefined;
          if (this.pumping === undefined) void this.pump();
        });
      }
    };
    // Started in a microtask, so that `pumping` is set before the loop can end.
    const pumping = Promise.resolve().then(run);
    this.pumping = pumping;
    return pumping;
  }

  /** How long until a STATUS= may go out (0: now). */
  private statusDueIn(): number {
    if (this.flushing || this.lastStatusAt === undefined) return 0;
    return Math.max(0, this.lastStatusAt + STATUS_INTERVAL_MS - this.clock.now());
  }

  private async sendNow(lines: string[]): Promise<void> {
    try {
      await this.transport.send(lines);
      this.failing = false;
    } catch (err) {
      const fields = { notify: this.transport.description, message: lines.join(' '), err: describe(err) };
      if (this.failing) this.logger.debug(fields, 'sd_notify failed again, ignoring');
      else this.logger.warn(fields, 'sd_notify failed, ignoring');
      this.failing = true;
    }
  }
}

export interface CreateNotifierOptions {
  /** Loads the datagram addon; default: node-unix-socket if installed. Pass `async () => undefined` to force systemd-notify. */
  loadAddon?: () => Promise<DgramAddon | undefined>;
  systemdNotify?: SystemdNotifyOptions;
  /** Paces STATUS= (default: the system clock). */
  clock?: Clock;
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
  return new TransportNotifier(transport, logger, options.clock);
}
