// Config text for the config tests: YAML from lines, parsed as portwake.yaml, or the problems it is
// rejected with (one per line of the ConfigError's message).

import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/errors.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { PortwakeConfig } from '../../src/config/types.ts';

export const yaml = (...lines: string[]): string => `${lines.join('\n')}\n`;

export const parse = (text: string): PortwakeConfig => parseConfig(text, 'portwake.yaml');

/** The problems the text is rejected with; fails the test when it is accepted. */
export function problems(text: string, source = 'portwake.yaml'): string[] {
  try {
    parseConfig(text, source);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.message.split('\n');
  }
  return assert.fail('expected the config to be rejected');
}
