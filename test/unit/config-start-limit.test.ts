// The start-limit keys of a service (startLimitBurst, startLimitInterval, startBackoffMax): read,
// checked, and left unset (the activation's defaults) when not given.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';

function service(extra: string) {
  const s = parseConfig(`services:\n  web:\n    listen: 127.0.0.1:18080\n    container: web\n${extra}`, 'portwake.yaml').services[0];
  assert.ok(s);
  return s;
}

describe('config: start limit', () => {
  it('reads the three keys', () => {
    const s = service('    startLimitBurst: 3\n    startLimitInterval: 30s\n    startBackoffMax: 2m\n');
    assert.equal(s.startLimitBurst, 3);
    assert.equal(s.startLimitIntervalMs, 30_000);
    assert.equal(s.startBackoffMaxMs, 120_000);
  });

  it('leaves them unset when not given, and accepts a burst of 0 (no limit)', () => {
    const s = service('');
    assert.equal('startLimitBurst' in s, false);
    assert.equal(service('    startLimitBurst: 0\n').startLimitBurst, 0);
  });

  it('rejects a negative burst and a bad duration, saying what is expected', () => {
    assert.throws(() => service('    startLimitBurst: -1\n'), /startLimitBurst: expected a whole number \(0 turns the start limit off\), got -1/);
    assert.throws(() => service('    startBackoffMax: soon\n'), /startBackoffMax: expected a duration like "10m"/);
  });
});
