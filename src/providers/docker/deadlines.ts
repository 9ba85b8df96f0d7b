// How long each engine call may take before portwake gives up on the engine (a hung dockerd accepts
// connections and never answers). The caller's own signal may end a call sooner: the activation
// bounds a start by the service's startTimeout.

import { systemClock } from '../../core/clock.ts';
import { withDeadline } from '../../core/deadline.ts';

/** GET /_ping. */
export const PING_TIMEOUT_MS = 5_000;
/** GET /containers/NAME/json: a lookup in the engine's memory. */
export const INSPECT_TIMEOUT_MS = 10_000;
/** POST /containers/NAME/start, when the caller sets no tighter deadline: mounts, network, runtime. */
export const START_TIMEOUT_MS = 300_000;
/** POST /containers/NAME/pause and /unpause: the engine freezes or thaws the container's cgroup. */
export const PAUSE_TIMEOUT_MS = 30_000;
/** POST /containers/NAME/stop waits for the grace period, then SIGKILL and the exit: grace plus this. */
export const STOP_MARGIN_MS = 10_000;
/** GET /events until the engine sends the response headers. */
export const EVENTS_CONNECT_TIMEOUT_MS = 10_000;

/** Runs one engine call under its deadline (real time: this is the real engine's client). */
export function engineCall<T>(ms: number, signal: AbortSignal | undefined, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  return withDeadline(systemClock, ms, signal, fn);
}
