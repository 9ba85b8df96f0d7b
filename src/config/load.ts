// The only code that reads the config file: text → YAML → validated PortwakeConfig, or a ConfigError
// listing every problem with its line:col. Nothing is half-applied: either all of it is valid or none.

import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { describe } from '../core/errors.ts';
import { ConfigError } from './errors.ts';
import { formatPath, type Locator } from './locator.ts';
import { show } from './parsed.ts';
import type { PortwakeConfig } from './types.ts';
import { validate } from './validate.ts';
import { readYaml, type YamlSource } from './yaml-source.ts';
import { isMap } from './zod-field.ts';

/** Reads and validates the file; rejects with a ConfigError (also when it cannot be read). */
export async function loadConfig(path: string, options: LoadOptions = {}): Promise<PortwakeConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const issue = { line: undefined, col: undefined, path: '', message: `cannot read ${path}: ${describe(err)}` };
    throw new ConfigError(path, [issue], basename(path), { cause: err });
  }
  return parseConfig(text, path, options);
}

export interface LoadOptions {
  /** The daemon's environment gives it a control token (control/token.ts environmentHasToken). */
  tokenFromEnvironment?: boolean;
}

/**
 * Validates config text. sourceName is the path it came from: PortwakeConfig.source, and its base
 * name prefixes every message (`portwake.yaml:3:5: …`). Pure: reads nothing, resolves nothing.
 */
export function parseConfig(text: string, sourceName: string, options: LoadOptions = {}): PortwakeConfig {
  const invalid = (issues: ConfigError['issues']): ConfigError => new ConfigError(sourceName, issues, basename(sourceName));
  const source = readYaml(text);
  if (source.syntaxErrors.length > 0) {
    throw invalid(source.syntaxErrors.map(({ position, message }) => ({ ...position, path: '', message })));
  }
  const root = source.value;
  if (root === undefined || root === null) {
    throw invalid([{ line: 1, col: 1, path: '', message: 'the file is empty; expected a "services:" map with at least one service' }]);
  }
  if (!isMap(root)) {
    const at = source.locate([], 'value');
    throw invalid([{ ...at, path: '', message: `expected a map with a "services:" key at the top level, got ${show(root)}` }]);
  }
  const result = validate(withoutExtensions(root), fileLocator(source), { tokenFromEnvironment: options.tokenFromEnvironment });
  if (!result.ok) throw invalid(result.issues);
  return { source: sourceName, ...result.config };
}

/** Top-level `x-…` keys are free for YAML anchors to share settings (as in compose files). */
function withoutExtensions(root: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(root).filter(([key]) => !key.startsWith('x-')));
}

function fileLocator(source: YamlSource): Locator {
  const position: Locator['position'] = (path, at) =>
    at === 'parent' ? source.locate(path.slice(0, -1), 'value') : source.locate(path, at);
  return {
    name: formatPath,
    position,
    reference: (path) => `${formatPath(path)} at line ${position(path, 'value')?.line ?? 1}`,
  };
}
