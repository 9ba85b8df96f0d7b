// The config keys of idle-on-traffic and the connection limits: idleOn, holdTimeout, maxHeldBytes,
// halfCloseTimeout — read, left unset when absent (the defaults apply where they are used), and
// bad values reported at their line.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { ServiceConfig } from '../../src/config/types.ts';
import { frontendLimits } from '../../src/daemon/service.ts';

const web = (...lines: string[]): string => ['services:', '  web:', '    listen: 8080', '    container: app', ...lines.map((l) => `    ${l}`), ''].join('\n');

function service(text: string): ServiceConfig {
  const s = parseConfig(text, 'portwake.yaml').services[0];
  assert.ok(s);
  return s;
}

function problem(text: string): string {
  try {
    parseConfig(text, 'portwake.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.message;
  }
  return assert.fail('expected the config to be rejected');
}

describe('config: idleOn and the connection limits', () => {
  it('reads every key', () => {
    const s = service(web('idleOn: traffic', 'holdTimeout: 90s', 'maxHeldBytes: 1048576', 'halfCloseTimeout: 5s'));
    assert.equal(s.idleOn, 'traffic');
    assert.equal(s.holdTimeoutMs, 90_000);
    assert.equal(s.maxHeldBytes, 1_048_576);
    assert.equal(s.halfCloseTimeoutMs, 5_000);
  });

  it('leaves them unset when absent, and halfCloseTimeout: never is null (no bound)', () => {
    const s = service(web());
    assert.equal('idleOn' in s || 'holdTimeoutMs' in s || 'maxHeldBytes' in s || 'halfCloseTimeoutMs' in s, false);
    assert.equal(service(web('halfCloseTimeout: never')).halfCloseTimeoutMs, null);
  });

  it('the defaults the frontend gets: a held connection outlasts the start deadline by a second, so a failed start closes it with its own error', () => {
    const limits = frontendLimits(service(web('startTimeout: 2s')));
    assert.equal(limits.holdTimeoutMs, 3_000);
    assert.equal(limits.maxHeldBytes, 16 * 1024 * 1024);
    assert.equal(limits.halfCloseTimeoutMs, 30_000);
    assert.equal(frontendLimits(service(web('holdTimeout: 5s'))).holdTimeoutMs, 5_000);
  });

  it('reports bad values at their line', () => {
    assert.match(problem(web('idleOn: bytes')), /portwake\.yaml:5:\d+: services\.web\.idleOn: expected "connections" .* or "traffic" .*, got "bytes"/);
    assert.match(problem(web('maxHeldBytes: 0')), /services\.web\.maxHeldBytes: expected a positive whole number/);
    assert.match(problem(web('holdTimeout: soon')), /services\.web\.holdTimeout: /);
    assert.match(problem(web('halfCloseTimeout: -1s')), /services\.web\.halfCloseTimeout: /);
  });
});
