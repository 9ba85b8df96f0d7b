// Prometheus metrics for one daemon: counters and histograms fed by the DaemonEvent stream, gauges
// and byte totals read from status() at scrape time. A Registry per daemon, never the global one.

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { DaemonEvent, ServiceStateKind, ServiceStatus } from '../core/status.ts';

const STATES: readonly ServiceStateKind[] = ['stopped', 'starting', 'ready', 'pausing', 'paused', 'unpausing', 'stopping', 'failed'];

/** nodejs_eventloop_lag_*: sampled once a second, so that an idle daemon sleeps (see below). */
const EVENT_LOOP_SAMPLE_MS = 1_000;

/** Cold starts run from well under a second (a static server) to minutes (a JVM, a migration). */
const START_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];

export interface ControlMetrics {
  readonly registry: Registry;
  /** Feeds one daemon event into the counters and histograms. */
  observe(event: DaemonEvent): void;
  /** The Prometheus text exposition (runs the status() collect callbacks). */
  render(): Promise<string>;
}

export interface ControlMetricsOptions {
  /** Snapshot read at scrape time for gauges and byte totals. */
  status(): ServiceStatus[];
  /** Process metrics (CPU, memory, event loop, fds); default true. */
  defaultMetrics?: boolean;
}

export function createControlMetrics(options: ControlMetricsOptions): ControlMetrics {
  const registry = new Registry();
  const registers = [registry];
  // The event-loop delay histogram runs a timer at this period for as long as the process lives:
  // prom-client's default of 10 ms would wake an otherwise idle daemon 100 times a second.
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  // One snapshot per scrape, shared by every collect callback of that scrape.
  let snapshot: ServiceStatus[] | undefined;
  const current = (): ServiceStatus[] => (snapshot ??= options.status());

  const activations = new Counter({
    name: 'portwake_activations_total',
    help: 'Times a service became ready after a start (by a connection or the API).',
    labelNames: ['service'] as const,
    registers,
  });
  const failures = new Counter({
    name: 'portwake_activation_failures_total',
    help: 'Failed starts, by error code (READY_TIMEOUT, CONTAINER_EXITED, ...).',
    labelNames: ['service', 'code'] as const,
    registers,
  });
  const refused = new Counter({
    name: 'portwake_refused_connections_total',
    help: 'Client connections closed without being forwarded, by reason.',
    labelNames: ['service', 'reason'] as const,
    registers,
  });
  const spliced = new Counter({
    name: 'portwake_spliced_connections_total',
    help: 'Closed connections whose bulk bytes moved through the zero-copy splice pump.',
    labelNames: ['service'] as const,
    registers,
  });
  const timeToReady = new Histogram({
    name: 'portwake_time_to_ready_seconds',
    help: 'Container start request until the readiness check passed, for starts portwake made.',
    labelNames: ['service'] as const,
    buckets: START_BUCKETS,
    registers,
  });
  const firstWait = new Histogram({
    name: 'portwake_first_connection_wait_seconds',
    help: 'How long the connection that triggered a start waited before it was forwarded.',
    labelNames: ['service'] as const,
    buckets: START_BUCKETS,
    registers,
  });
  /** A gauge per service read from status() at scrape time. */
  const perService = (name: string, help: string, pick: (s: ServiceStatus) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['service'] as const,
      registers,
      collect() {
        this.reset();
        for (const s of current()) this.set({ service: s.name }, pick(s));
      },
    });
  };
  perService('portwake_open_connections', 'Client connections currently forwarded to the upstream.', (s) => s.openConnections);
  perService('portwake_start_backoff_until_timestamp_seconds', 'While failed starts back off (start limit): when the back-off ends, else 0.', (s) => (s.backoffUntil ?? 0) / 1000);
  perService('portwake_held_connections', 'Client connections accepted and waiting for the service to become ready.', (s) => s.heldConnections);
  perService('portwake_half_closed_connections', 'Open connections whose client half-closed while the upstream has not finished (reset after halfCloseTimeout).', (s) => s.halfClosedConnections ?? 0);
  new Counter({
    name: 'portwake_proxied_bytes_total',
    help: 'Bytes forwarded; direction "in" is client to container, "out" container to client.',
    labelNames: ['service', 'direction'] as const,
    registers,
    collect() {
      // The daemon keeps the totals; mirror them rather than keep a second count that could drift.
      this.reset();
      for (const s of current()) {
        this.inc({ service: s.name, direction: 'in' }, s.bytesIn);
        this.inc({ service: s.name, direction: 'out' }, s.bytesOut);
      }
    },
  });
  new Counter({
    name: 'portwake_http_requests_total',
    help: 'Requests the HTTP router received for a service, by what became of them: all, answered with the waiting page, answered 503.',
    labelNames: ['service', 'outcome'] as const,
    registers,
    collect() {
      // Mirrors the router's own counts, as for the bytes.
      this.reset();
      for (const s of current()) {
        if (s.http === undefined) continue;
        this.inc({ service: s.name, outcome: 'all' }, s.http.requests);
        this.inc({ service: s.name, outcome: 'waiting_page' }, s.http.waitingPages);
        this.inc({ service: s.name, outcome: 'unavailable' }, s.http.unavailable);
      }
    },
  });
  new Gauge({
    name: 'portwake_service_info',
    help: 'Always 1: which engine and container each service uses (join on service).',
    labelNames: ['service', 'engine', 'container'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of current()) this.set({ service: s.name, engine: s.engine ?? 'default', container: s.container }, 1);
    },
  });
  new Gauge({
    name: 'portwake_service_state',
    help: 'Current state of each service: 1 for the state it is in, 0 for the others.',
    labelNames: ['service', 'state'] as const,
    registers,
    collect() {
      this.reset();
      for (const s of current()) {
        for (const state of STATES) this.set({ service: s.name, state }, s.state === state ? 1 : 0);
      }
    },
  });

  return {
    registry,
    observe(event) {
      switch (event.type) {
        case 'activated':
          activations.inc({ service: event.service });
          // A container found already running has no cold start to measure.
          if (event.timings.startedByUs) {
            timeToReady.observe({ service: event.service }, (event.timings.containerStartMs + event.timings.readinessMs) / 1000);
          }
          if (event.firstWaitMs !== undefined) firstWait.observe({ service: event.service }, event.firstWaitMs / 1000);
          break;
        case 'failed':
          failures.inc({ service: event.service, code: event.code });
          break;
        case 'refused':
          refused.inc({ service: event.service, reason: event.reason });
          break;
        case 'connection':
          if (event.spliced === true) spliced.inc({ service: event.service });
          break;
        case 'state':
          break; // read from status() at scrape time
      }
    },
    async render() {
      snapshot = undefined;
      try {
        return await registry.metrics();
      } finally {
        snapshot = undefined;
      }
    },
  };
}
