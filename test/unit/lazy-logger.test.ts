// lazyChildren: a child logger is made on its first line, with its bindings, once.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { debugEnabled, type Logger } from '../../src/core/logger.ts';
import { createLogger } from '../../src/log/log.ts';
import { lazyChildren } from '../../src/log/lazy-logger.ts';

/** Records lines with the bindings of the child that wrote them, and every child made. */
function recorder(): { logger: Logger; lines: string[]; made: string[] } {
  const lines: string[] = [];
  const made: string[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const tag = JSON.stringify(bindings);
    const at = (level: string) => (obj: object, msg: string): void => { lines.push(`${level} ${tag} ${JSON.stringify(obj)} ${msg}`); };
    return {
      debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'),
      child: (more) => {
        const all = { ...bindings, ...more };
        made.push(JSON.stringify(all));
        return make(all);
      },
    };
  };
  return { logger: make({}), lines, made };
}

describe('lazyChildren', () => {
  it('makes a child when it first logs, once, with its bindings; nested children too', () => {
    const r = recorder();
    const root = lazyChildren(r.logger);
    const web = root.child({ service: 'web' });
    const db = root.child({ service: 'db' });
    const conn = web.child({ conn: 1 });
    assert.deepEqual(r.made, [], 'nothing made before a line is written');

    web.info({ a: 1 }, 'one');
    web.warn({}, 'two');
    conn.error({}, 'three');
    root.debug({}, 'four');
    assert.deepEqual(r.made, ['{"service":"web"}', '{"service":"web","conn":1}']);
    assert.deepEqual(r.lines, [
      'info {"service":"web"} {"a":1} one',
      'warn {"service":"web"} {} two',
      'error {"service":"web","conn":1} {} three',
      'debug {} {} four',
    ]);
    void db;
  });

  it('says whether debug lines are written, as the real logger does, without making a child', () => {
    for (const level of ['debug', 'info'] as const) {
      const root = lazyChildren(createLogger({ level, pretty: false }));
      const child = root.child({ service: 'web' }).child({ conn: 1 });
      assert.equal(debugEnabled(child), level === 'debug', `level ${level}`);
    }
    const r = recorder();
    const child = lazyChildren(r.logger).child({ service: 'web' });
    assert.equal(debugEnabled(child), true, 'a logger that cannot say is asked to write the line');
    assert.deepEqual(r.made, [], 'asking made no child');
  });
});
