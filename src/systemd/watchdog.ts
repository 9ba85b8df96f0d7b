// The service watchdog (WatchdogSec=): WATCHDOG=1 at half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises.

import type { Clock, TimerHandle } from '../core/clock.ts';
import type { Notifier } from './notify.ts';

/**
 * The ping interval in ms, or undefined when no watchdog is asked of this process: WATCHDOG_USEC
 * unset, zero or malformed, or WATCHDOG_PID naming another process.
 */
export function watchdogIntervalMs(env: Readonly<Record<string, string | undefined>>, pid: number): number | undefined {
  const usecText = env.WATCHDOG_USEC;
  if (usecText === undefined || !/^\d+$/.test(usecText)) return undefined;
  const pidText = env.WATCHDOG_PID;
  if (pidText !== undefined && pidText !== String(pid)) return undefined;
  const usec = Number(usecText);
  if (usec === 0) return undefined;
  return Math.max(1, Math.floor(usec / 2_000));
}

export interface Watchdog {
  /** Stops pinging; idempotent. */
  stop(): void;
}

/** Pings every intervalMs on the injected clock (one timer re-armed after each ping, never setInterval). */
export function startWatchdog(notifier: Pick<Notifier, 'watchdog'>, intervalMs: number, clock: Clock): Watchdog {
  let handle: TimerHandle | undefined;
  let stopped = false;
  const arm = (): void => {
    handle = clock.setTimer(intervalMs, () => {
      if (stopped) return;
      notifier.watchdog();
      arm();
    });
  };
  arm();
  return {
    stop() {
      stopped = true;
      handle?.cancel();
      handle = undefined;
    },
  };
}
