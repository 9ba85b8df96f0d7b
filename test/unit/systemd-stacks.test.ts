// Generated systemd units for a stack: a dependency without listen: gets no socket unit (the service
// that needs it starts it); the recipe style, which cannot express dependsOn or groups, refuses them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { generateRecipeUnits } from '../../src/systemd/recipe-units.ts';
import { generatePortwakeUnits } from '../../src/systemd/units.ts';

const stack = parseConfig('services:\n  app: {listen: 8080, container: app-c, dependsOn: [db]}\n  db: {container: db-c}\n', '/etc/portwake.yaml');

describe('systemd units for a stack', () => {
  it('no socket unit for a dependency without listen:', () => {
    const files = generatePortwakeUnits(stack, { name: 'portwake', portwake: ['/usr/local/bin/portwake'], args: ['run', '-c', '/etc/portwake.yaml'], exitIdleMs: undefined, watchdogMs: 0, user: undefined, groups: [] });
    assert.deepEqual(files.map((f) => f.name), ['portwake.socket', 'portwake.service']);
    assert.match(files[0]?.text ?? '', /ListenStream=8080/);
  });

  it('the recipe style refuses dependsOn, saying which style can', () => {
    assert.throws(
      () => generateRecipeUnits(stack, { portwake: ['/usr/local/bin/portwake'], proxyd: '/lib/systemd/systemd-socket-proxyd', docker: '/usr/bin/docker' }),
      /service "app" has dependsOn, which the recipe's units cannot express; generate the portwake style/,
    );
  });
});
