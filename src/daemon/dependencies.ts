// dependsOn, wired: while a service is starting or up it holds a lease on each of its dependencies'
// Backends — exactly what a connection holds — so each dependency is started (independent ones in
// parallel) and ready by its own ready: rule before the service's container starts, stays up while
// any dependent holds it (its open leases count them), and idles out by its own idleTimeout once
// the last dependent has stopped and its own connections are gone. A dependency lost while its
// dependent runs is started again after RESTART_DELAY_MS, unless the dependent stopped meanwhile
// (`docker-compose down` stops a whole project at once: portwake must not bring the database back).

import type { Backend, Lease } from '../core/backend.ts';
import type { Clock } from '../core/clock.ts';
import { DependencyFailedError, describe, PortwakeError } from '../core/errors.ts';
import type { DependenciesHook } from '../core/activation/types.ts';
import type { Logger } from '../core/logger.ts';

export interface DependencyHost {
  /** The running service of that name (looked up at each start: a reload may have replaced it). */
  backend(name: string): Backend | undefined;
  logger: Logger;
  /** The daemon's lifetime: bounds the restart of a dependency lost while its dependent runs. */
  signal: AbortSignal;
  clock: Clock;
}

/**
 * How long a lost dependency waits before it is started again: long enough for the engine's events
 * of a stop of the whole stack (the dependent's die) to arrive first, short against a crash's cost.
 */
export const RESTART_DELAY_MS = 1_000;

/** The hook for `service`'s activation (core/activation/types.ts DependenciesHook). */
export function dependenciesHook(service: string, host: DependencyHost): DependenciesHook {
  return async (names, signal) => {
    const held = new Map<string, Lease>();
    let released = false;
    // The first failure lets go of the rest at once: waits in flight are abandoned (their starts go
    // on, single flight, and idle out with nobody holding them).
    const giveUp = new AbortController();
    const wait = AbortSignal.any([signal, giveUp.signal]);
    const take = async (name: string): Promise<void> => {
      const backend = host.backend(name);
      if (backend === undefined) throw new DependencyFailedError(name, new PortwakeError('CONFIG_INVALID', `no service named "${name}" is running`));
      let lease: Lease;
      try {
        lease = await backend.acquire(wait);
      } catch (err) {
        throw signal.aborted ? signal.reason : giveUp.signal.aborted ? giveUp.signal.reason : new DependencyFailedError(name, err);
      }
      if (released || giveUp.signal.aborted) {
        lease.release();
        return;
      }
      held.set(name, lease);
      watch(name, lease);
    };
    /** A dependency lost while its dependent runs (it exited, or was stopped outside) is started again (restart, after RESTART_DELAY_MS). */
    const watch = (name: string, lease: Lease): void => {
      lease.onRevoke = () => {
        if (released || held.get(name) !== lease) return;
        held.delete(name);
        lease.release();
        host.clock.setTimer(RESTART_DELAY_MS, () => restart(name));
      };
      if (lease.revoked) lease.onRevoke('gone');
    };
    const restart = (name: string): void => {
      // The dependent stopped too (the whole stack was stopped): nothing to start.
      if (released || host.signal.aborted) {
        host.logger.info({ service, dependency: name }, `service "${service}": its dependency "${name}" stopped; "${service}" stopped too, so it is not started again`);
        return;
      }
      host.logger.warn({ service, dependency: name }, `service "${service}": its dependency "${name}" stopped while it runs; starting "${name}" again`);
      const backend = host.backend(name);
      if (backend === undefined) return;
      backend.acquire(host.signal).then((again) => {
        if (released) again.release();
        else {
          held.set(name, again);
          watch(name, again);
        }
      }, (err: unknown) => {
        if (!host.signal.aborted && !released) {
          host.logger.error({ service, dependency: name, err: describe(err) }, `service "${service}": could not start its dependency "${name}" again: ${describe(err)}; "${service}" runs without it until its next start`);
        }
      });
    };
    try {
      await Promise.all(names.map((n) => take(n).catch((err: unknown) => {
        giveUp.abort(err);
        throw err;
      })));
    } catch (err) {
      released = true;
      for (const l of held.values()) l.release();
      held.clear();
      throw err;
    }
    return () => {
      released = true;
      for (const l of held.values()) l.release();
      held.clear();
    };
  };
}

/** The services (of `all`) that list `name` in dependsOn. */
export function dependentsOf(name: string, all: Iterable<{ name: string; dependsOn?: readonly string[] | undefined }>): string[] {
  return [...all].filter((s) => s.dependsOn?.includes(name) === true).map((s) => s.name);
}
