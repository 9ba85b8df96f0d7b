// Stacks in portwake.yaml: services without listen:, dependsOn (unknown names, cycles), container
// groups and restartPolicy — good files and every problem at its place.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import { parse, problems, yaml } from '../support/config-text.ts';


describe('config: stacks', () => {
  it('takes a dependency without listen:, dependsOn as a list or one name, and a container group', () => {
    const config = parse(yaml(
      'restartPolicy: manage',
      'services:',
      '  app:',
      '    listen: 8080',
      '    container: [app1, sidecar1]',
      '    dependsOn: [db, cache]',
      '  db:',
      '    container: db1',
      '    idleTimeout: 5m',
      '    restartPolicy: keep',
      '  cache: {container: cache1, dependsOn: db}',
    ));
    const [app, db, cache] = config.services;
    assert.equal(app?.container, 'app1');
    assert.deepEqual(app?.members, ['sidecar1']);
    assert.deepEqual(app?.dependsOn, ['db', 'cache']);
    assert.equal(app?.restartPolicy, 'manage', 'the top-level policy is the default');
    assert.deepEqual(db?.listen, []);
    assert.equal(db?.members, undefined);
    assert.equal(db?.restartPolicy, 'keep', 'a service says otherwise');
    assert.deepEqual(cache?.dependsOn, ['db']);
  });

  it('names an unknown dependency with a did-you-mean', () => {
    const lines = problems(yaml('services:', '  app: {listen: 8080, container: a, dependsOn: [dbb]}', '  db: {container: d}'));
    assert.ok(lines.some((l) => /^portwake\.yaml:2:\d+: services\.app\.dependsOn\[0\]: no service named "dbb"; did you mean "db"\?/.test(l)), lines.join('\n'));
  });

  it('names a cycle once, from its first service in file order', () => {
    const lines = problems(yaml(
      'services:',
      '  a: {listen: 8080, container: a, dependsOn: b}',
      '  b: {container: b, dependsOn: [c]}',
      '  c: {container: c, dependsOn: [a]}',
    ));
    const cycles = lines.filter((l) => l.includes('cycle'));
    assert.equal(cycles.length, 1, lines.join('\n'));
    assert.match(cycles[0] ?? '', /services\.a\.dependsOn: cycle a → b → c → a: /);
  });

  it('names a service that depends on itself', () => {
    const lines = problems(yaml('services:', '  a: {listen: 8080, container: a, dependsOn: a}'));
    assert.ok(lines.some((l) => /services\.a\.dependsOn: cycle a → a/.test(l)), lines.join('\n'));
  });

  it('rejects a service without listen: that nothing depends on', () => {
    const lines = problems(yaml('services:', '  web: {listen: 8080, container: w}', '  db: {container: d}'));
    assert.ok(lines.some((l) => /^portwake\.yaml:3:\d+: services\.db\.listen: is required .* unless another service lists this one in dependsOn/.test(l)), lines.join('\n'));
  });

  it('rejects idleOn: traffic on a dependency, naming its dependents', () => {
    const lines = problems(yaml('services:', '  web: {listen: 8080, container: w, dependsOn: [db]}', '  db: {container: d, idleOn: traffic, idleTimeout: 1m}'));
    assert.ok(lines.some((l) => /services\.db\.idleOn: "traffic" cannot work for a dependency: "web" reaches it/.test(l)), lines.join('\n'));
  });

  it('rejects a bad container list, a repeated dependency and a bad restartPolicy, each at its place', () => {
    const lines = problems(yaml(
      'restartPolicy: always',
      'services:',
      '  a: {listen: 8080, container: [], dependsOn: [b, b]}',
      '  b: {listen: 8081, container: [x, x], restartPolicy: no}',
    ));
    const text = lines.join('\n');
    assert.match(text, /portwake\.yaml:1:\d+: restartPolicy: expected "manage" .* got "always"/);
    assert.match(text, /services\.a\.container: expected a container name or a non-empty list of them, got \[\]/);
    assert.match(text, /services\.a\.dependsOn: \[1\]: service "b" is listed twice/);
    assert.match(text, /services\.b\.container: \[1\]: container "x" is listed twice/);
    assert.match(text, /services\.b\.restartPolicy: expected "manage"/);
  });

  it('suggests the new keys when misspelt', () => {
    const text = problems(yaml('services:', '  a: {listen: 8080, container: a, dependOn: [b]}', '  b: {container: b}')).join('\n');
    assert.match(text, /did you mean "dependsOn"\?/);
  });

  it('the stack example in examples/stack/ is valid', async () => {
    const config = await loadConfig(new URL('../../examples/stack/portwake.yaml', import.meta.url).pathname);
    const api = config.services.find((s) => s.name === 'api');
    assert.deepEqual(api?.dependsOn, ['db', 'cache']);
    assert.deepEqual(api?.members, ['shop-api-logs']);
    assert.ok(config.services.every((s) => s.restartPolicy === 'manage'));
  });
});
