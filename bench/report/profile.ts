// Summarises the V8 CPU profiles portwake wrote under --profile (node --cpu-prof): where the
// samples went — idle, GC, native, Node's stream and net internals, and portwake's own src/proxy
// functions, by self time and by inclusive time (a function plus what it called).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { basename, join } from 'node:path';

interface CallFrame { functionName: string; url: string; lineNumber: number; columnNumber: number }
interface ProfileNode { id: number; callFrame: CallFrame; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface ProfileSummary {
  label: string;
  seconds: number;
  samples: number;
  /** Share of the non-idle samples. */
  busy: { key: string; self: number; total: number }[];
  categories: Record<string, number>;
  idleShare: number;
}

const TOP = 25;

/** Every profile under dir/<label>/, one section each, as Markdown. */
export function summarizeProfiles(dir: string): string {
  const out: string[] = ['# portwake CPU profiles (node --cpu-prof)', ''];
  let labels: string[] = [];
  try {
    labels = readdirSync(dir).filter((d) => statSync(join(dir, d)).isDirectory()).sort();
  } catch {
    return 'no profiles were written\n';
  }
  for (const label of labels) {
    for (const file of readdirSync(join(dir, label)).filter((f) => f.endsWith('.cpuprofile'))) {
      const p = JSON.parse(readFileSync(join(dir, label, file), 'utf8')) as CpuProfile;
      out.push(...renderSummary(summarize(label, p)), '');
    }
  }
  return `${out.join('\n')}\n`;
}

const maps = new Map<string, SourceMap | undefined>();

/** The built file's source map (tsc's sourceMap: true), to name TypeScript lines. */
function sourceMapFor(path: string): SourceMap | undefined {
  if (!maps.has(path)) {
    let map: SourceMap | undefined;
    try {
      if (existsSync(`${path}.map`)) map = new SourceMap(JSON.parse(readFileSync(`${path}.map`, 'utf8')) as ConstructorParameters<typeof SourceMap>[0]);
    } catch {
      map = undefined;
    }
    maps.set(path, map);
  }
  return maps.get(path);
}

function keyOf(f: CallFrame): string {
  const name = f.functionName === '' ? '(anonymous)' : f.functionName;
  if (f.url === '') return name;
  const path = f.url.replace(/^file:\/\//, '');
  const dist = path.indexOf('/dist/');
  if (dist >= 0) {
    // Lines of portwake's own code are given in the TypeScript source, through the source map.
    const entry = sourceMapFor(path)?.findEntry(f.lineNumber, f.columnNumber) as { originalLine?: number } | undefined;
    const line = entry?.originalLine === undefined ? `js:${f.lineNumber + 1}` : String(entry.originalLine + 1);
    return `${name} src/${path.slice(dist + 6).replace(/\.js$/, '.ts')}:${line}`;
  }
  return `${name} ${path.startsWith('node:') ? path : basename(path)}:${f.lineNumber + 1}`;
}

function category(f: CallFrame): string {
  if (f.functionName === '(idle)') return 'idle';
  if (f.functionName === '(garbage collector)') return 'GC';
  if (f.functionName === '(program)') return 'V8/native (program)';
  if (f.url.includes('/dist/proxy/')) return 'src/proxy';
  if (f.url.includes('/dist/')) return 'src (other)';
  if (f.url.startsWith('node:')) return 'Node internals (JS)';
  if (f.url.includes('node_modules')) return 'dependencies';
  return 'native built-ins';
}

export function summarize(label: string, p: CpuProfile): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const selfCount = new Map<number, number>();
  for (const id of p.samples) selfCount.set(id, (selfCount.get(id) ?? 0) + 1);
  const total = p.samples.length;
  const idle = p.nodes.filter((n) => n.callFrame.functionName === '(idle)').reduce((a, n) => a + (selfCount.get(n.id) ?? 0), 0);
  const busySamples = Math.max(1, total - idle);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const categories: Record<string, number> = {};
  // Inclusive counts: each sample counts once for every distinct function on its stack.
  const onStack = new Map<string, number>();
  const walk = (id: number): void => {
    const n = byId.get(id);
    if (n === undefined) return;
    const key = keyOf(n.callFrame);
    onStack.set(key, (onStack.get(key) ?? 0) + 1);
    const hits = selfCount.get(id) ?? 0;
    if (hits > 0 && n.callFrame.functionName !== '(idle)') {
      self.set(key, (self.get(key) ?? 0) + hits);
      const cat = category(n.callFrame);
      categories[cat] = (categories[cat] ?? 0) + hits;
      for (const k of onStack.keys()) inclusive.set(k, (inclusive.get(k) ?? 0) + hits);
    }
    for (const c of n.children ?? []) walk(c);
    const left = (onStack.get(key) ?? 1) - 1;
    if (left === 0) onStack.delete(key);
    else onStack.set(key, left);
  };
  const root = p.nodes[0];
  if (root !== undefined) walk(root.id);

  const keys = new Set([...self.keys(), ...inclusive.keys()]);
  const busy = [...keys]
    .filter((k) => k !== '(root)')
    .map((k) => ({ key: k, self: (self.get(k) ?? 0) / busySamples, total: (inclusive.get(k) ?? 0) / busySamples }));
  const shares: Record<string, number> = {};
  for (const [k, v] of Object.entries(categories)) shares[k] = v / busySamples;
  return { label, seconds: (p.endTime - p.startTime) / 1e6, samples: total, busy, categories: shares, idleShare: idle / Math.max(1, total) };
}

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

function renderSummary(s: ProfileSummary): string[] {
  const out: string[] = [
    `## ${s.label}: ${s.seconds.toFixed(1)} s profiled, ${s.samples} samples, ${pct(s.idleShare)} idle`,
    '',
    'Shares below are of the busy (non-idle) samples.',
    '',
    '| Category | Self |',
    '| --- | --- |',
    ...Object.entries(s.categories).sort((a, b) => b[1] - a[1]).map(([k, v]) => `| ${k} | ${pct(v)} |`),
    '',
    `Top ${TOP} by self time:`,
    '',
    '| Function | Self | Inclusive |',
    '| --- | --- | --- |',
    ...[...s.busy].sort((a, b) => b.self - a.self).slice(0, TOP).map((b) => `| \`${b.key}\` | ${pct(b.self)} | ${pct(b.total)} |`),
    '',
    'portwake src/proxy functions by inclusive time:',
    '',
    '| Function | Self | Inclusive |',
    '| --- | --- | --- |',
    ...s.busy.filter((b) => b.key.includes(' src/proxy/')).sort((a, b) => b.total - a.total).slice(0, TOP).map((b) => `| \`${b.key}\` | ${pct(b.self)} | ${pct(b.total)} |`),
  ];
  return out;
}
