// Wait until the app inside a started container is really ready: a deadline, an AbortSignal, a
// burst of immediate retries for a failed TCP probe, then a capped backoff (STYLE.md habit 8). The
// probes themselves (sockets, HTTP) are injected: they live in src/probes/, as core/ has no node:net.
// `portwake wait-port` has a loop of its own, src/probes/wait-port.ts: it probes one target until a
// deadline, with none of a start's container watching (exit, health, delay).

import { sleep, type Clock } from './clock.ts';
import { ContainerExitedError, ReadyTimeoutError, describe } from './errors.ts';
import type { ContainerInfo, Endpoint, Provider } from './provider.ts';

export type ReadySpec =
  | { kind: 'tcp' }
  /** HTTP GET path; ready when the status is within [statusMin, statusMax]. */
  | { kind: 'http'; path: string; statusMin: number; statusMax: number; host: string | undefined }
  /** The container's HEALTHCHECK reports healthy. */
  | { kind: 'health' }
  /** A fixed delay after the container started (the recipe's `sleep 1`). */
  | { kind: 'delay'; ms: number };

export type ProbeOutcome = { ok: true } | { ok: false; detail: string };

/** One attempt each; never throw for "not ready", only resolve { ok: false, detail }. */
export interface Probes {
  /**
   * A TCP connect. With `settle` true the peer must also keep the connection open briefly: a proxy
   * that accepts and then resets (Docker's userland proxy before the app listens) is not ready.
   */
  tcp(target: Endpoint, settle: boolean, signal: AbortSignal): Promise<ProbeOutcome>;
  http(target: Endpoint, spec: Extract<ReadySpec, { kind: 'http' }>, signal: AbortSignal): Promise<ProbeOutcome>;
}

export interface WaitReadyOptions {
  spec: ReadySpec;
  container: string;
  /** Where to probe, and whether it is the app itself (true) or something in front of it (false). */
  target: Endpoint;
  direct: boolean;
  provider: Provider;
  probes: Probes;
  clock: Clock;
  timeoutMs: number;
  /** The whole start budget, for the timeout message (defaults to timeoutMs). */
  budgetMs?: number;
  /** Aborted by the caller (shutdown) or when the container is known to have exited. */
  signal: AbortSignal;
}

/** Backoff between probes: grows by half from 1 ms (so the sleeps are 2, 3, 5 ms) to a cap; the cap rises after a while. */
export function nextDelay(previousMs: number, elapsedMs: number): number {
  const cap = elapsedMs < 5_000 ? 5 : 50;
  return Math.min(cap, Math.max(1, Math.ceil(previousMs * 1.5)));
}

const INSPECT_EVERY_MS = 1_000;
/**
 * A failed TCP probe of the app itself (refused, as a rule: nothing listens yet) is retried at
 * once (no timer) for this long after waiting began, before the backoff: most apps listen
 * within a few milliseconds of their container starting, and a refused connect costs 20–40 µs in
 * the native addon (0.1–0.3 ms through node:net), so the first byte is not held for a 2–5 ms sleep.
 * Not for HTTP probes (they would load a starting app) nor through a proxy in front of the app.
 */
export const IMMEDIATE_TCP_MS = 10;
/** And at most this many times (a bound for a clock that does not move, or a probe that costs nothing). */
export const IMMEDIATE_TCP_PROBES = 1_000;

/**
 * Resolves once ready. Rejects with ReadyTimeoutError after timeoutMs, ContainerExitedError when
 * the container stops meanwhile (checked by inspect at most once a second; the caller may abort
 * sooner from the events stream), or the signal's reason when aborted.
 */
export async function waitReady(o: WaitReadyOptions): Promise<void> {
  const started = o.clock.now();
  let lastDetail: string | undefined;
  const deadline = new AbortController();
  const timer = o.clock.setTimer(o.timeoutMs, () => deadline.abort(new ReadyTimeoutError(o.container, o.budgetMs ?? o.timeoutMs, lastDetail)));
  const signal = AbortSignal.any([o.signal, deadline.signal]);
  let lastInspect = started;
  let delay = 1;
  let immediate = o.spec.kind === 'tcp' && o.direct ? IMMEDIATE_TCP_PROBES : 0;
  try {
    if (o.spec.kind === 'delay') {
      await sleep(o.clock, o.spec.ms, signal);
      return;
    }
    for (;;) {
      signal.throwIfAborted();
      const outcome = await probeOnce(o, signal);
      signal.throwIfAborted();
      if (outcome.ok) return;
      lastDetail = outcome.detail;
      const now = o.clock.now();
      if (now - started >= IMMEDIATE_TCP_MS) immediate = 0;
      if (now - lastInspect >= INSPECT_EVERY_MS || o.spec.kind === 'health') {
        lastInspect = now;
        const info = await o.provider.inspect(o.container, signal);
        if (!info.running) throw new ContainerExitedError(o.container, info.exitCode);
        if (o.spec.kind === 'health' && info.health === 'healthy') return;
        if (o.spec.kind === 'health') lastDetail = `health is ${info.health}`;
      }
      if (immediate > 0) {
        immediate--;
        continue;
      }
      delay = o.spec.kind === 'health' ? 100 : nextDelay(delay, now - started);
      await sleep(o.clock, delay, signal);
    }
  } catch (err) {
    if (signal.aborted) throw signal.reason as Error;
    throw err;
  } finally {
    timer.cancel();
  }
}

async function probeOnce(o: WaitReadyOptions, signal: AbortSignal): Promise<ProbeOutcome> {
  try {
    switch (o.spec.kind) {
      case 'tcp':
        return await o.probes.tcp(o.target, !o.direct, signal);
      case 'http':
        return await o.probes.http(o.target, o.spec, signal);
      case 'health':
        return { ok: false, detail: 'waiting for health' };
      case 'delay':
        return { ok: true };
    }
  } catch (err) {
    if (signal.aborted) throw err;
    return { ok: false, detail: describe(err) };
  }
}

/** Whether an inspected container can answer the readiness spec at all (fails fast, clearly). */
export function checkReadySpec(spec: ReadySpec, info: ContainerInfo): string | undefined {
  if (spec.kind === 'health' && !info.hasHealthcheck) {
    return `ready: health, but container "${info.name}" has no HEALTHCHECK (add one, or use ready: tcp)`;
  }
  return undefined;
}
