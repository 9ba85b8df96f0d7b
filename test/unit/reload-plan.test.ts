// What a reload changes, decided from two configs: added, removed, changed and untouched services,
// and which new services must wait for a retired one to free its address.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';
import { planReload, type ReloadPlan } from '../../src/daemon/reload-plan.ts';

const config = (...lines: string[]): PortwakeConfig => parseConfig(`services:\n${lines.join('\n')}\n`, 'portwake.yaml');
const svc = (name: string, listen: string, extra = ''): string => `  ${name}:\n    listen: ${listen}\n    container: ${name}-c\n${extra}`;

describe('planReload', () => {
  const running = config(
    svc('keep', '127.0.0.1:8001'),
    svc('gone', '127.0.0.1:8002'),
    svc('tweak', '127.0.0.1:8003'),
    svc('move', 'unix:/run/move.sock'),
  ).services;

  const actions = (plan: ReloadPlan): Array<[string, string]> => plan.services.map((p) => [p.config.name, p.action]);
  const binds = (plan: ReloadPlan, late = false): Array<[string, string[]]> =>
    plan.services.filter((p) => (late ? p.bindLate : p.bind).length > 0).map((p) => [p.config.name, (late ? p.bindLate : p.bind).map((l) => l.text)]);

  it('sorts services into kept, updated in place (same container and upstream), replaced and added', () => {
    const plan = planReload(running, config(
      svc('keep', '127.0.0.1:8001'),
      svc('tweak', '127.0.0.1:8003', '    idleTimeout: 1s\n    maxConnections: 5'),
      svc('move', '127.0.0.1:8004'),
      svc('new', '127.0.0.1:8005'),
    ));
    assert.deepEqual(plan.result, { added: ['new'], removed: ['gone'], changed: ['tweak', 'move'] });
    assert.deepEqual(actions(plan), [['keep', 'keep'], ['tweak', 'update'], ['move', 'update'], ['new', 'add']]);
    assert.deepEqual(plan.removed, ['gone']);
    assert.deepEqual(plan.services.find((p) => p.config.name === 'tweak')?.reuse, ['tcp 127.0.0.1 8003'], 'an unchanged address keeps its socket');
    assert.deepEqual(binds(plan), [['move', ['127.0.0.1:8004']], ['new', ['127.0.0.1:8005']]], 'new addresses are bound before anything closes');
    assert.deepEqual(binds(plan, true), []);
    assert.deepEqual(plan.release.map((r) => [r.service, r.key, r.early]), [['gone', 'tcp 127.0.0.1 8002', false], ['move', 'unix - /run/move.sock', false]]);
  });

  it('a new container or upstream replaces the service; its address is handed over, not bound again', () => {
    const plan = planReload(running, config(
      svc('keep', '127.0.0.1:8001'),
      svc('gone', '127.0.0.1:8002'),
      '  tweak:\n    listen: 127.0.0.1:8003\n    container: other-c',
      svc('move', 'unix:/run/move.sock', '    upstream: 127.0.0.1:9000'),
    ));
    assert.deepEqual(actions(plan), [['keep', 'keep'], ['gone', 'keep'], ['tweak', 'replace'], ['move', 'replace']]);
    assert.deepEqual(plan.services.map((p) => p.reuse), [['tcp 127.0.0.1 8001'], ['tcp 127.0.0.1 8002'], ['tcp 127.0.0.1 8003'], ['unix - /run/move.sock']]);
    assert.deepEqual(binds(plan), []);
    assert.deepEqual(plan.release, []);
  });

  it('an address moves from a removed service to an added one without being closed', () => {
    const plan = planReload(running, config(svc('keep', '127.0.0.1:8001'), svc('heir', '127.0.0.1:8002'), svc('tweak', '127.0.0.1:8003'), svc('move', 'unix:/run/move.sock')));
    assert.deepEqual(plan.result, { added: ['heir'], removed: ['gone'], changed: [] });
    assert.deepEqual(plan.services.find((p) => p.config.name === 'heir')?.reuse, ['tcp 127.0.0.1 8002']);
    assert.deepEqual(plan.release, []);
  });

  it('a new address overlapping one that closes (a wildcard, a new socket mode) is bound after it has closed', () => {
    const plan = planReload(running, config(
      svc('keep', '127.0.0.1:8001'),
      svc('tweak', '127.0.0.1:8003'),
      svc('move', 'unix:/run/move.sock', '    socketMode: "0600"'),
      svc('heir', '8002'),
    ));
    assert.deepEqual(binds(plan), []);
    assert.deepEqual(binds(plan, true), [['move', ['unix:/run/move.sock']], ['heir', ['8002']]]);
    assert.deepEqual(plan.release.map((r) => [r.service, r.early]), [['gone', true], ['move', true]]);
  });

  it('nothing to do for the same file', () => {
    const plan = planReload(running, config(svc('keep', '127.0.0.1:8001'), svc('gone', '127.0.0.1:8002'), svc('tweak', '127.0.0.1:8003'), svc('move', 'unix:/run/move.sock')));
    assert.deepEqual(plan.result, { added: [], removed: [], changed: [] });
    assert.ok(plan.services.every((p) => p.action === 'keep'));
    assert.deepEqual(plan.release, []);
  });

  it('keeps systemd sockets it holds; refuses ones it does not: only a restart receives them', () => {
    const sd = config(svc('web', 'systemd:web')).services;
    const plan = planReload(sd, config(svc('web', 'systemd:web', '    idleTimeout: 1m')));
    assert.deepEqual(actions(plan), [['web', 'update']]);
    assert.deepEqual(plan.services[0]?.reuse, ['systemd web']);
    assert.throws(() => planReload(running, config(svc('keep', '127.0.0.1:8001'), svc('sock', 'systemd:web'))), {
      code: 'CONFIG_INVALID',
      message: /service "sock": listen: systemd:web is not among the sockets systemd passed to portwake: .*restart portwake/,
    });
    assert.throws(() => planReload(sd, config(svc('web', 'systemd:web'), svc('api', 'systemd:api')), { fromSystemd: true }), {
      code: 'CONFIG_INVALID',
      message: /service "api" is new, and with --listen-from-systemd its sockets come from systemd: .*portwake generate systemd/,
    });
  });

  it('a changed dependsOn is applied in place; a changed container group replaces the service', () => {
    const before = config(svc('app', '127.0.0.1:8001', '    dependsOn: [db]'), '  db: {container: db-c}', '  cache: {container: cache-c, listen: "127.0.0.1:8009"}').services;
    const deps = planReload(before, config(svc('app', '127.0.0.1:8001', '    dependsOn: [db, cache]'), '  db: {container: db-c}', '  cache: {container: cache-c, listen: "127.0.0.1:8009"}'));
    assert.deepEqual(deps.services.map((p) => [p.config.name, p.action]), [['app', 'update'], ['db', 'keep'], ['cache', 'keep']]);
    const group = planReload(before, config('  app:\n    listen: 127.0.0.1:8001\n    container: [app-c, side-c]\n    dependsOn: [db]', '  db: {container: db-c}', '  cache: {container: cache-c, listen: "127.0.0.1:8009"}'));
    assert.equal(group.services[0]?.action, 'replace');
  });
});
