// A paused service as `portwake status`, `/metrics` and systemd's STATUS= show it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatEvent, formatStatusTable, palette } from '../../src/cli/status-format.ts';
import { createControlMetrics } from '../../src/control/metrics.ts';
import { formatStatusLine } from '../../src/systemd/status-line.ts';
import { service } from '../support/fake-daemon-control.ts';

const now = Date.parse('2026-12-05T07:40:00Z');
const paused = service('web', {
  state: 'paused',
  lastStart: { at: now - 60_000, containerStartMs: 12, readinessMs: 0, startedByUs: true, unpaused: true },
});

describe('paused display', () => {
  it('portwake status: the state, and the last wake as an unpause', () => {
    const text = formatStatusTable([paused], now, palette({}, {}));
    assert.match(text, /^web +paused +0 +.* +unpaused in 12ms, 1m00s ago$/m);
    const line = formatEvent({ type: 'activated', service: 'web', timings: paused.lastStart ?? assert.fail(), firstWaitMs: 12, at: now }, palette({}, {}));
    assert.match(line, /unpaused, ready in 12ms/);
  });

  it('metrics: the state gauge has paused (and pausing, unpausing)', async () => {
    const text = await createControlMetrics({ status: () => [paused], defaultMetrics: false }).render();
    for (const state of ['pausing', 'paused', 'unpausing']) {
      assert.match(text, new RegExp(`^portwake_service_state\\{service="web",state="${state}"\\} ${state === 'paused' ? 1 : 0}$`, 'm'));
    }
  });

  it('STATUS=: paused services are counted', () => {
    assert.equal(formatStatusLine([{ state: 'paused' }, { state: 'ready' }]), '2 services, 1 running, 0 starting, 1 paused');
  });
});
