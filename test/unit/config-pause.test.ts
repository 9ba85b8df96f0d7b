// The pause keys of a service (idleAction, stopAfter): read, left unset when not given, and the
// settings that could not work or would do nothing are config errors naming the key.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { PortwakeError } from '../../src/core/errors.ts';

function service(extra: string) {
  const s = parseConfig(`services:\n  web:\n    listen: 127.0.0.1:18080\n    container: web\n${extra}`, 'portwake.yaml').services[0];
  assert.ok(s);
  return s;
}

function problems(extra: string): string[] {
  try {
    service(extra);
  } catch (err) {
    assert.ok(err instanceof PortwakeError, String(err));
    return err.message.split('\n');
  }
  return [];
}

describe('config: idleAction and stopAfter', () => {
  it('reads both keys', () => {
    const s = service('    idleTimeout: 5m\n    idleAction: pause\n    stopAfter: 1h\n');
    assert.equal(s.idleAction, 'pause');
    assert.equal(s.stopAfterMs, 3_600_000);
    assert.equal(service('    idleTimeout: 5m\n    idleAction: stop\n').idleAction, 'stop');
  });

  it('leaves them unset when not given (the default is stop)', () => {
    const s = service('    idleTimeout: 5m\n');
    assert.equal('idleAction' in s, false);
    assert.equal('stopAfterMs' in s, false);
  });

  it('a bad value says what is expected', () => {
    assert.deepEqual(problems('    idleTimeout: 5m\n    idleAction: freeze\n'), [
      'portwake.yaml:6:17: services.web.idleAction: expected "stop" (stop the idle container) or "pause" (freeze it; the next connection unpauses it), got "freeze"',
    ]);
    assert.match(problems('    idleTimeout: 5m\n    idleAction: pause\n    stopAfter: later\n').join('\n'), /services\.web\.stopAfter: expected a duration like "10m"/);
  });

  it('idleAction: pause without an idle timeout, and stopAfter without pause, would do nothing: errors', () => {
    assert.deepEqual(problems('    idleAction: pause\n'), [
      'portwake.yaml:5:5: services.web.idleAction: has no effect without idleTimeout (the service is never idle): add one, e.g. "idleTimeout: 5m"',
    ]);
    assert.deepEqual(problems('    idleTimeout: never\n    idleAction: pause\n').length, 1);
    assert.deepEqual(problems('    idleTimeout: 5m\n    stopAfter: 1h\n'), [
      'portwake.yaml:6:5: services.web.stopAfter: applies only with "idleAction: pause" (it stops a container paused that long)',
    ]);
  });

  it('a provider that cannot pause (command) is refused at config time', () => {
    // `provider:` is another feature's key; whatever the schema says of it, this rule names the pause.
    const found = problems('    idleTimeout: 5m\n    idleAction: pause\n    provider: command\n');
    assert.ok(found.includes('portwake.yaml:6:17: services.web.idleAction: "pause" needs a provider that can pause; command cannot (use idleAction: stop)'), found.join('\n'));
  });

  it('"did you mean" knows the new keys', () => {
    assert.match(problems('    idleTimeout: 5m\n    idleActoin: pause\n').join('\n'), /did you mean "idleAction"/);
  });
});
