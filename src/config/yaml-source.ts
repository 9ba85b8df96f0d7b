// YAML text → plain value plus where every key and value sits in the text (1-based line:col), so a
// schema problem at `services.web.idleTimeout` can point at its line. Merge keys (`<<: *base`) are
// supported, with their entries located at the anchored map they came from.

import { isAlias, isCollection, isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair } from 'yaml';
import type { Path, Position } from './locator.ts';

interface Located { key: Position | undefined; value: Position }

export interface YamlSource {
  /** The document as plain data; undefined for an empty document. */
  value: unknown;
  /** Syntax errors (and warnings such as unknown tags); when any, value is not to be trusted. */
  syntaxErrors: Array<{ position: Position; message: string }>;
  /** Where the value at path starts, or its key; falls back to the nearest located ancestor. */
  locate(path: Path, at: 'value' | 'key'): Position;
}

/** Deep enough for any sensible config, shallow enough to stop a self-referencing alias. */
const MAX_DEPTH = 64;

export function readYaml(text: string): YamlSource {
  const lineCounter = new LineCounter();
  // logLevel 'error': library code does not print warnings; every problem becomes an issue instead.
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, uniqueKeys: true, logLevel: 'error' });
  const pos = (offset: number): Position => lineCounter.linePos(offset);
  const problems = [...doc.errors, ...doc.warnings];
  const firstExhaustion = problems.findIndex((e) => e.code === 'RESOURCE_EXHAUSTION');
  const syntaxErrors = problems.filter((e, i) => e.code !== 'RESOURCE_EXHAUSTION' || i === firstExhaustion).map((e) => {
    const position = pos(e.pos[0]);
    if (e.code === 'DUPLICATE_KEY') return { position, message: `duplicate key ${JSON.stringify(keyAt(text, e.pos[0]))}` };
    // The parser ran out of stack: say what is wrong with the file, not what broke in the library.
    if (e.code === 'MULTIPLE_DOCS') return { position, message: 'a second YAML document starts here ("---"); portwake reads one document: put everything in the first' };
    if (e.code === 'RESOURCE_EXHAUSTION') return { position, message: 'nested too deeply to read (lists or maps inside each other hundreds of levels deep)' };
    return { position, message: `${e.message}${ipv6Hint(text.split('\n')[position.line - 1] ?? '')}` };
  });
  if (syntaxErrors.length === 0) {
    visit(doc, {
      Pair(_, pair) {
        if (!isCollection(pair.key) || !isNodeWithRange(pair.key)) return;
        const position = pos(pair.key.range[0]);
        syntaxErrors.push({ position, message: `a key must be text, not a list or map${ipv6Hint(text.split('\n')[position.line - 1] ?? '')}` });
      },
    });
  }

  const located = new Map<string, Located>();
  const root = doc.contents;
  const rootPosition = root?.range === undefined ? { line: 1, col: 1 } : pos(root.range[0]);
  located.set(keyOf([]), { key: undefined, value: rootPosition });

  let value: unknown;
  if (syntaxErrors.length === 0) {
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      syntaxErrors.push({ position: rootPosition, message: err instanceof Error ? err.message : String(err) });
    }
  }
  // Only after toJS accepted the aliases: walking an alias bomb's expansion took minutes.
  if (root !== null && syntaxErrors.length === 0) walk(doc, root, [], 0, located, pos);

  return {
    value,
    syntaxErrors,
    locate(path, at) {
      for (let n = path.length; n >= 0; n--) {
        const hit = located.get(keyOf(path.slice(0, n)));
        if (hit !== undefined) return at === 'key' && n === path.length ? hit.key ?? hit.value : hit.value;
      }
      return rootPosition;
    },
  };
}

/** `[::1]:80` unquoted is a YAML list followed by junk: say so when a failing line has one. */
function ipv6Hint(line: string): string {
  return /(^|[\s,[{:])\[[0-9A-Fa-f:.%]*\]:\d/.test(line) ? ' (quote IPv6 addresses: "[::1]:80")' : '';
}

/** The key written at offset, for "duplicate key" messages (yaml marks only its first character). */
function keyAt(text: string, offset: number): string {
  const m = /^(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^:\n]*?))\s*:/.exec(text.slice(offset));
  return m === null ? text.slice(offset, offset + 1) : m[1] ?? m[2]?.replaceAll("''", "'") ?? m[3] ?? '';
}

function keyOf(path: Path): string {
  return JSON.stringify(path.map(String));
}

function walk(doc: Document, node: Node, path: Path, depth: number, out: Map<string, Located>, pos: (o: number) => Position): void {
  if (depth > MAX_DEPTH) return;
  const target = isAlias(node) ? node.resolve(doc) : node;
  if (target === undefined) return;
  if (isSeq(target)) {
    target.items.forEach((item, i) => {
      if (!isNodeWithRange(item)) return;
      out.set(keyOf([...path, i]), { key: undefined, value: pos(item.range[0]) });
      walk(doc, item, [...path, i], depth + 1, out, pos);
    });
    return;
  }
  if (!isMap(target)) return;
  for (const [key, pair] of effectivePairs(doc, target.items, depth)) {
    const keyPos = isNodeWithRange(pair.key) ? pos(pair.key.range[0]) : undefined;
    const valuePos = isNodeWithRange(pair.value) ? pos(pair.value.range[0]) : keyPos;
    if (valuePos === undefined) continue;
    out.set(keyOf([...path, key]), { key: keyPos, value: valuePos });
    if (isNodeWithRange(pair.value)) walk(doc, pair.value, [...path, key], depth + 1, out, pos);
  }
}

/** A map's pairs by key as toJS sees them: explicit keys win, then merge sources in order. */
function effectivePairs(doc: Document, pairs: Pair[], depth: number): Map<string, Pair> {
  const result = new Map<string, Pair>();
  const merges: unknown[] = [];
  for (const pair of pairs) {
    if (isMergeKey(pair.key)) merges.push(pair.value);
    else if (isScalar(pair.key)) result.set(String(pair.key.value), pair);
  }
  for (const merged of merges) {
    const source = isAlias(merged) ? merged.resolve(doc) : merged;
    const maps = isSeq(source) ? source.items.map((i) => (isAlias(i) ? i.resolve(doc) : i)) : [source];
    for (const map of maps) {
      if (!isMap(map) || depth > MAX_DEPTH) continue;
      for (const [key, pair] of effectivePairs(doc, map.items, depth + 1)) {
        if (!result.has(key)) result.set(key, pair);
      }
    }
  }
  return result;
}

function isMergeKey(key: unknown): boolean {
  // A quoted "<<" is an ordinary key, as in toJS.
  if (!isScalar(key) || (key.type !== undefined && key.type !== 'PLAIN')) return false;
  const v = key.value;
  return v === '<<' || (typeof v === 'symbol' && v.description === '<<');
}

function isNodeWithRange(node: unknown): node is Node & { range: [number, number, number] } {
  return typeof node === 'object' && node !== null && 'range' in node && Array.isArray((node as { range?: unknown }).range);
}
