// One configured service as the daemon runs it (a RunningService): its activation (container lifecycle) and its
// frontend (listeners and connections), built and torn down together.

import { Activation, type ActivationDeps } from '../core/activation/activation.ts';
import type { Logger } from '../core/logger.ts';
import { DEFAULTS, type ServiceConfig } from '../config/types.ts';
import { Frontend } from '../proxy/frontends/l4/frontend.ts';
import type { NativePolicy } from '../proxy/native.ts';
import type { ListenTarget } from '../proxy/accept/listen.ts';


export interface RunningService {
  config: ServiceConfig;
  activation: Activation;
  frontend: Frontend;
  /** The listen key (reload-plan.ts) of each listener, by the listener's text: what a reload may hand over. */
  keys: Map<string, string>;
}

/** Builds a service; it accepts nothing until `frontend.listen()`. */
export function createRunningService(
  config: ServiceConfig,
  listen: readonly ListenTarget[],
  keys: Map<string, string>,
  deps: ActivationDeps,
  logger: Logger,
  native?: NativePolicy,
): RunningService {
  const activation = new Activation(config, deps);
  const frontend = new Frontend({
    backend: activation,
    listen,
    ...frontendLimits(config),
    logger,
    clock: deps.clock,
    native,
    onConnection: (e) => deps.emit(e.change === 'close'
      ? { type: 'connection', service: config.name, change: 'close', at: deps.clock.now(), spliced: e.end.spliced, reason: e.end.reason }
      : { type: 'connection', service: config.name, change: 'open', at: deps.clock.now() }),
  });
  activation.listeners = listen.map((l) => l.text);
  return { config, activation, frontend, keys };
}

/**
 * How much longer than startTimeout a held connection may wait by default: a start that fails at its
 * deadline then closes its connections with its own error, instead of racing their hold timers
 * (armed a moment earlier, at accept) to it.
 */
export const DEFAULT_HOLD_MARGIN_MS = 1_000;

/** A service's limits and timeouts as its frontend takes them (at creation, and on a reload's update). */
export function frontendLimits(config: ServiceConfig): { maxConnections: number; maxPending: number; holdTimeoutMs: number; maxHeldBytes: number; halfCloseTimeoutMs: number | undefined; wakeFiltered: boolean; proxyProtocol: 'v1' | 'v2' | undefined } {
  return {
    wakeFiltered: config.wake !== undefined,
    proxyProtocol: config.proxyProtocol,
    maxConnections: config.maxConnections,
    maxPending: config.maxPending,
    holdTimeoutMs: config.holdTimeoutMs ?? config.startTimeoutMs + DEFAULT_HOLD_MARGIN_MS,
    maxHeldBytes: config.maxHeldBytes ?? DEFAULTS.maxHeldBytes,
    halfCloseTimeoutMs: config.halfCloseTimeoutMs === null ? undefined : config.halfCloseTimeoutMs ?? DEFAULTS.halfCloseTimeoutMs,
  };
}

/** Binds every unit's listeners; on any failure closes those bound and rethrows (all or nothing). */
export async function listenAll(units: readonly RunningService[]): Promise<void> {
  const bound: RunningService[] = [];
  try {
    for (const u of units) {
      await u.frontend.listen();
      bound.push(u);
    }
  } catch (err) {
    await Promise.all(bound.map((u) => u.frontend.close({ graceMs: 0 })));
    throw err;
  }
}

/** Listener texts in the order the service's config lists them (a reload may have bound them in another). */
export function inConfigOrder(texts: readonly string[], config: ServiceConfig): string[] {
  const order = config.listen.map((l) => l.text);
  const rank = (t: string): number => {
    const i = order.indexOf(t);
    return i < 0 ? order.length : i;
  };
  return [...texts].sort((a, b) => rank(a) - rank(b));
}
