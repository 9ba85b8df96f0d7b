// The engine's side of a stop: every container of the service stopped with its grace period, and
// a deadline on the request (a hung engine does not keep the service in 'stopping').

import type { Clock } from '../clock.ts';
import { withDeadline } from '../deadline.ts';
import { describe } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { Provider } from '../provider.ts';
import { groupOf, stopGroup } from './group.ts';
import type { ActivationSpec, StopReason } from './types.ts';

/** How much longer than its grace period a stop may take (SIGKILL, the exit) before the engine counts as hung. */
export const STOP_MARGIN_MS = 10_000;

/** Stops the service's containers (grace: stopTimeout) within stopTimeout plus STOP_MARGIN_MS. */
export function stopWithin(provider: Provider, clock: Clock, spec: ActivationSpec): Promise<void> {
  return withDeadline(clock, spec.stopTimeoutMs + STOP_MARGIN_MS, undefined, (signal) => stopGroup(provider, spec, Math.ceil(spec.stopTimeoutMs / 1000), signal));
}

/** A stop asked for at `since` (before the drain): logged either way, never rejects. */
export async function stopContainers(provider: Provider, clock: Clock, log: Logger, spec: ActivationSpec, reason: StopReason, since: number): Promise<void> {
  try {
    await stopWithin(provider, clock, spec);
    log.info({ reason, stopMs: clock.now() - since }, `service "${spec.name}": stopped ${spec.members === undefined ? 'container' : 'containers'} "${groupOf(spec).join('", "')}" (${reason}) in ${clock.now() - since}ms`);
  } catch (err) {
    log.warn({ err: describe(err) }, `service "${spec.name}": stopping container "${spec.container}" failed: ${describe(err)}; the next connection re-inspects it`);
  }
}

/** A container whose start the engine never answered is stopped in the background, best effort. */
export function stopAbandoned(provider: Provider, clock: Clock, log: Logger, spec: ActivationSpec): void {
  stopWithin(provider, clock, spec).catch((err: unknown) => {
    log.warn({ err: describe(err) }, `service "${spec.name}": stopping container "${spec.container}" after its unanswered start failed: ${describe(err)}; it may be running`);
  });
}
