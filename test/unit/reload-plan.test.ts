// What a reload changes, decided from two configs: added, removed, changed and untouched services,
// and which new services must wait for a retired one to free its address.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';
import { planReload } from '../../src/reload-plan.ts';

const config = (...lines: string[]): PortwakeConfig => parseConfig(`services:\n${lines.join('\n')}\n`, 'portwake.yaml');
const svc = (name: string, listen: string, extra = ''): string => `  ${name}:\n    listen: ${listen}\n    container: ${name}-c\n${extra}`;

describe('planReload', () => {
  const running = config(
    svc('keep', '127.0.0.1:8001'),
    svc('gone', '127.0.0.1:8002'),
    svc('tweak', '127.0.0.1:8003'),
    svc('move', 'unix:/run/move.sock'),
  ).services;

  it('sorts services into added, removed and changed; an identical one is left alone', () => {
    const plan = planReload(running, config(
      svc('keep', '127.0.0.1:8001'),
      svc('tweak', '127.0.0.1:8003', '    idleTimeout: 1s'),
      svc('move', '127.0.0.1:8004'),
      svc('new', '127.0.0.1:8005'),
    ));
    assert.deepEqual(plan.result, { added: ['new'], removed: ['gone'], changed: ['tweak', 'move'] });
    assert.deepEqual(plan.retire, ['gone', 'tweak', 'move']);
    assert.deepEqual(plan.early.map((s) => s.name), ['move', 'new'], 'new addresses are bound before anything closes');
    assert.deepEqual(plan.late.map((s) => s.name), ['tweak'], 'a service that keeps its address waits for the old listener');
  });

  it('a new service on an address a removed one held waits for it, including an overlapping wildcard', () => {
    const plan = planReload(running, config(
      svc('keep', '127.0.0.1:8001'),
      svc('tweak', '127.0.0.1:8003'),
      svc('move', 'unix:/run/move.sock'),
      svc('heir', '8002'),
    ));
    assert.deepEqual(plan.result, { added: ['heir'], removed: ['gone'], changed: [] });
    assert.deepEqual(plan.late.map((s) => s.name), ['heir']);
    assert.deepEqual(plan.early, []);
  });

  it('nothing to do for the same file', () => {
    const plan = planReload(running, config(svc('keep', '127.0.0.1:8001'), svc('gone', '127.0.0.1:8002'), svc('tweak', '127.0.0.1:8003'), svc('move', 'unix:/run/move.sock')));
    assert.deepEqual(plan, { result: { added: [], removed: [], changed: [] }, retire: [], early: [], late: [] });
  });

  it('refuses new systemd sockets: only a restart receives them', () => {
    assert.throws(() => planReload(running, config(svc('keep', '127.0.0.1:8001'), svc('sock', 'systemd:web'))), {
      code: 'CONFIG_INVALID',
      message: /service "sock": a reload cannot take new systemd sockets; restart portwake/,
    });
  });
});
