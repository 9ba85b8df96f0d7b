// `/metrics`: the Prometheus series built from daemon events and status() snapshots, on a registry of
// the daemon's own (the global prom-client registry stays empty).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';
import { createControlMetrics } from '../../src/control/metrics.ts';
import { FakeDaemonControl, service } from '../support/fake-daemon-control.ts';
import { http, startHarness } from '../support/control-harness.ts';

const timings = { at: 1000, containerStartMs: 400, readinessMs: 1100, startedByUs: true };

describe('control metrics', () => {
  it('counts activations, failures and refusals from events', async () => {
    const control = new FakeDaemonControl([service('web'), service('db')]);
    const metrics = createControlMetrics({ status: () => control.status(), defaultMetrics: false });
    metrics.observe({ type: 'activated', service: 'web', timings, firstWaitMs: 1600, at: 2500 });
    metrics.observe({ type: 'activated', service: 'web', timings: { ...timings, startedByUs: false }, firstWaitMs: undefined, at: 3000 });
    metrics.observe({ type: 'failed', service: 'db', code: 'READY_TIMEOUT', message: 'x', at: 1 });
    metrics.observe({ type: 'failed', service: 'db', code: 'READY_TIMEOUT', message: 'x', at: 2 });
    metrics.observe({ type: 'refused', service: 'web', reason: 'max_pending', at: 3 });
    metrics.observe({ type: 'connection', service: 'web', change: 'close', at: 4, spliced: true });
    metrics.observe({ type: 'connection', service: 'web', change: 'close', at: 5, spliced: false });
    metrics.observe({ type: 'connection', service: 'db', change: 'open', at: 6 });
    const text = await metrics.render();
    assert.match(text, /^portwake_spliced_connections_total\{service="web"\} 1$/m);
    assert.doesNotMatch(text, /^portwake_spliced_connections_total\{service="db"\}/m);
    assert.match(text, /^portwake_activations_total\{service="web"\} 2$/m);
    assert.match(text, /^portwake_activation_failures_total\{service="db",code="READY_TIMEOUT"\} 2$/m);
    assert.match(text, /^portwake_refused_connections_total\{service="web",reason="max_pending"\} 1$/m);
    // Only the start portwake made is a cold start: one observation of 1.5 s.
    assert.match(text, /^portwake_time_to_ready_seconds_count\{service="web"\} 1$/m);
    assert.match(text, /^portwake_time_to_ready_seconds_sum\{service="web"\} 1\.5$/m);
    assert.match(text, /^portwake_time_to_ready_seconds_bucket\{le="1",service="web"\} 0$/m);
    assert.match(text, /^portwake_time_to_ready_seconds_bucket\{le="2",service="web"\} 1$/m);
    assert.match(text, /^portwake_first_connection_wait_seconds_sum\{service="web"\} 1\.6$/m);
    assert.match(text, /^portwake_first_connection_wait_seconds_count\{service="web"\} 1$/m);
    assert.match(text, /^# TYPE portwake_time_to_ready_seconds histogram$/m);
  });

  it('reads connections, bytes and state from status() at scrape time', async () => {
    const control = new FakeDaemonControl([service('web', { state: 'ready', openConnections: 4, heldConnections: 1, halfClosedConnections: 2, bytesIn: 1200, bytesOut: 56_000 }), service('db')]);
    const metrics = createControlMetrics({ status: () => control.status(), defaultMetrics: false });
    let text = await metrics.render();
    assert.match(text, /^portwake_open_connections\{service="web"\} 4$/m);
    assert.match(text, /^portwake_held_connections\{service="web"\} 1$/m);
    assert.match(text, /^portwake_half_closed_connections\{service="web"\} 2$/m);
    assert.match(text, /^portwake_half_closed_connections\{service="db"\} 0$/m);
    assert.match(text, /^portwake_proxied_bytes_total\{service="web",direction="in"\} 1200$/m);
    assert.match(text, /^portwake_proxied_bytes_total\{service="web",direction="out"\} 56000$/m);
    assert.match(text, /^portwake_service_state\{service="web",state="ready"\} 1$/m);
    assert.match(text, /^portwake_service_state\{service="web",state="stopped"\} 0$/m);
    assert.match(text, /^portwake_service_state\{service="db",state="stopped"\} 1$/m);

    control.get('web').state = 'stopping';
    control.get('web').openConnections = 0;
    control.services = control.services.filter((s) => s.name !== 'db'); // removed by a reload
    text = await metrics.render();
    assert.match(text, /^portwake_service_state\{service="web",state="stopping"\} 1$/m);
    assert.match(text, /^portwake_service_state\{service="web",state="ready"\} 0$/m);
    assert.match(text, /^portwake_open_connections\{service="web"\} 0$/m);
    assert.doesNotMatch(text, /service="db"/);
  });

  it('serves GET /metrics from the event stream, with process metrics, not on the global registry', async (t) => {
    const h = await startHarness(t, { defaultMetrics: true });
    h.control.emit({ type: 'activated', service: 'web', timings, firstWaitMs: 1500, at: 2500 });
    h.control.emit({ type: 'failed', service: 'db', code: 'CONTAINER_EXITED', message: 'exited', at: 1 });
    const reply = await http(h.target, 'GET', '/metrics');
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(reply.body, /^portwake_activations_total\{service="web"\} 1$/m);
    assert.match(reply.body, /^portwake_activation_failures_total\{service="db",code="CONTAINER_EXITED"\} 1$/m);
    assert.match(reply.body, /^process_cpu_user_seconds_total /m);
    assert.match(reply.body, /^nodejs_eventloop_lag_seconds /m);
    assert.doesNotMatch(await globalRegistry.metrics(), /portwake_/);
  });

  it('keeps two daemons apart', async (t) => {
    const a = await startHarness(t);
    const b = await startHarness(t);
    a.control.emit({ type: 'refused', service: 'web', reason: 'max_connections', at: 1 });
    assert.match((await http(a.target, 'GET', '/metrics')).body, /portwake_refused_connections_total\{service="web",reason="max_connections"\} 1/);
    assert.doesNotMatch((await http(b.target, 'GET', '/metrics')).body, /portwake_refused_connections_total\{/);
  });
});
