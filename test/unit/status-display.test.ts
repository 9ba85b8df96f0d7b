// How `portwake status` and `/metrics` show a service: backing off after repeated failed starts, and its connections.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatusTable, palette } from '../../src/cli/status-format.ts';
import { createControlMetrics } from '../../src/control/metrics.ts';
import { service } from '../support/fake-daemon-control.ts';

const now = Date.parse('2026-12-05T07:40:00Z');
const backingOff = service('web', {
  state: 'failed',
  lastError: 'service "web": container "web-container" exited during start with code 3',
  lastErrorCode: 'CONTAINER_EXITED',
  backoffUntil: now + 42_000,
  backoffRefused: 17,
});

describe('back-off display', () => {
  it('portwake status: the state says so, and a line says until when and how to retry', () => {
    const text = formatStatusTable([backingOff, service('db')], now, palette({}, {}));
    assert.match(text, /^web +failed, backing off +0 /m);
    assert.match(text, /^web: backing off until 07:40:42 UTC \(42s more\), 17 connection\(s\) refused meanwhile; "portwake start web" retries now$/m);
    assert.doesNotMatch(text, /^db: backing off/m);
  });

  it('metrics: the back-off end as a timestamp, 0 when none', async () => {
    const metrics = createControlMetrics({ status: () => [backingOff, service('db')], defaultMetrics: false });
    const text = await metrics.render();
    assert.match(text, new RegExp(`^portwake_start_backoff_until_timestamp_seconds\\{service="web"\\} ${(now + 42_000) / 1000}$`, 'm'));
    assert.match(text, /^portwake_start_backoff_until_timestamp_seconds\{service="db"\} 0$/m);
  });
});

describe('connections column', () => {
  it('portwake status: held and half-closed connections are named beside the open count', () => {
    const busy = service('web', { state: 'ready', openConnections: 5, heldConnections: 2, halfClosedConnections: 1 });
    const quiet = service('db', { state: 'ready', openConnections: 3 });
    const text = formatStatusTable([busy, quiet], now, palette({}, {}));
    assert.match(text, /^web +ready +5 \(2 held, 1 half-closed\) /m);
    assert.match(text, /^db +ready +3 /m);
  });
});
