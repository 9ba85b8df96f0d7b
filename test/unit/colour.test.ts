// ANSI colour only on a terminal and never with NO_COLOR: the rule, and readable log lines written
// into a file (as the demo's are when redirected), which must hold no escape sequence.

import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { palette } from '../../src/cli/status-format.ts';
import { colourWanted } from '../../src/log/colour.ts';
import { createLogger } from '../../src/log/log.ts';

describe('colour', () => {
  it('on a terminal only, and not with NO_COLOR (unless empty) or TERM=dumb', () => {
    assert.equal(colourWanted(true, {}), true);
    assert.equal(colourWanted(false, {}), false);
    assert.equal(colourWanted(undefined, {}), false);
    assert.equal(colourWanted(true, { NO_COLOR: '1' }), false);
    assert.equal(colourWanted(true, { NO_COLOR: '' }), true, 'no-color.org: an empty NO_COLOR does not count');
    assert.equal(colourWanted(true, { TERM: 'dumb' }), false);
    assert.equal(palette({ isTTY: true }, { NO_COLOR: 'yes' }).red('x'), 'x');
    assert.equal(palette({ isTTY: true }, {}).red('x'), '\x1b[31mx\x1b[39m');
  });

  it('readable log lines written into a file carry no escape sequence, with or without NO_COLOR', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'pwtest-colour-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    for (const env of [{}, { NO_COLOR: '1' }]) {
      const path = join(dir, `log-${Object.keys(env).length}.txt`);
      const fd = openSync(path, 'w');
      try {
        createLogger({ level: 'info', pretty: true, fd, env }).warn({ service: 'web' }, 'hello');
      } finally {
        closeSync(fd);
      }
      const text = readFileSync(path, 'utf8');
      assert.match(text, /WARN.*hello/);
      assert.ok(!text.includes('\x1b['), `no ANSI escapes in a file: ${JSON.stringify(text)}`);
    }
  });
});
