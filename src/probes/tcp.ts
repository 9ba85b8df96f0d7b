// TCP readiness probe: one connect attempt, optionally requiring the connection to stay up for a
// short settle window, so that a proxy accepting on the app's behalf does not count as the app.

import net from 'node:net';
import { describe } from '../core/errors.ts';
import type { Endpoint } from '../core/provider.ts';
import type { ProbeOutcome } from '../core/readiness.ts';

export const CONNECT_TIMEOUT_MS = 1_000;
/** Docker's userland proxy closes a connection it cannot forward within a millisecond or two. */
export const SETTLE_MS = 50;

export function probeTcp(target: Endpoint, settle: boolean, signal: AbortSignal): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const socket = target.kind === 'unix' ? net.connect({ path: target.path }) : net.connect({ host: target.host, port: target.port });
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: ProbeOutcome): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => finish({ ok: false, detail: 'aborted' });
    signal.addEventListener('abort', onAbort, { once: true });
    // Real timers: a probe's deadlines bound a real socket's connect and settle, which a test's
    // manual clock cannot speed up; the waits between probes are on the injected clock (readiness.ts).
    timer = setTimeout(() => finish({ ok: false, detail: `no answer to connect within ${CONNECT_TIMEOUT_MS}ms` }), CONNECT_TIMEOUT_MS);
    socket.once('error', (err) => finish({ ok: false, detail: describe(err) }));
    socket.once('connect', () => {
      if (!settle) {
        finish({ ok: true });
        return;
      }
      clearTimeout(timer);
      socket.once('end', () => finish({ ok: false, detail: 'accepted, then closed by the peer (the app is not listening yet)' }));
      socket.once('close', () => finish({ ok: false, detail: 'accepted, then reset by the peer (the app is not listening yet)' }));
      socket.resume();
      timer = setTimeout(() => finish({ ok: true }), SETTLE_MS);
    });
  });
}

/** A probe answered without waiting where it can be: an outcome, or undefined to probe the slow way. */
export type QuickConnect = (target: Endpoint) => ProbeOutcome | undefined;

/**
 * probeTcp with a quick path in front (for a probe without a settle window): a quick success
 * resolves at once; a quick failure resolves on the next turn of the event loop, so that a burst of
 * immediate retries takes turns with the daemon's other I/O instead of running in one.
 */
export function quickTcpProbe(quick: QuickConnect): (target: Endpoint, settle: boolean, signal: AbortSignal) => Promise<ProbeOutcome> {
  return (target, settle, signal) => {
    const outcome = settle || signal.aborted ? undefined : quick(target);
    if (outcome === undefined) return probeTcp(target, settle, signal);
    if (outcome.ok) return Promise.resolve(outcome);
    return new Promise((resolve) => { setImmediate(resolve, outcome); });
  };
}
