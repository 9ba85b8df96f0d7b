// Builds portwake the way it ships (tsc -p tsconfig.build.json) into a temporary directory, from
// the working tree or from a git ref, so that dist/ is left alone and a tree in mid-edit can still
// be benchmarked at a known commit.

import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { runQuiet } from './proc.ts';

export interface Build {
  /** The built entry point: `node <main> proxy …`. */
  main: string;
  /** What was built: "working tree" or the ref. */
  source: string;
  commit: string;
  /** src/ had uncommitted changes (only meaningful for the working tree). */
  dirty: boolean;
  buildMs: number;
}

export function buildPortwake(repo: string, tmp: string, ref: string | undefined): Build {
  const t0 = Date.now();
  const git = (...args: string[]): string => runQuiet('git', ['-C', repo, ...args]).trim();
  const commit = git('rev-parse', ref ?? 'HEAD');
  const dirty = ref === undefined && git('status', '--porcelain', '--', 'src') !== '';
  const out = join(tmp, 'portwake');
  mkdirSync(out, { recursive: true });
  let tree = repo;
  if (ref !== undefined) {
    tree = join(tmp, 'tree');
    mkdirSync(tree, { recursive: true });
    const archive = join(tmp, 'tree.tar');
    runQuiet('git', ['-C', repo, 'archive', '-o', archive, commit, 'src', 'package.json', 'tsconfig.json', 'tsconfig.build.json']);
    runQuiet('tar', ['-x', '-f', archive, '-C', tree]);
    symlinkSync(join(repo, 'node_modules'), join(tree, 'node_modules'));
  }
  const tsc = join(repo, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    runQuiet(process.execPath, [tsc, '-p', join(tree, 'tsconfig.build.json'), '--outDir', join(out, 'dist'), '--declaration', 'false'], { cwd: tree });
  } catch (err) {
    const hint = ref === undefined ? '\n(the working tree does not build; benchmark a commit instead: npm run bench -- --ref HEAD)' : '';
    throw new Error(`building portwake failed: ${err instanceof Error ? err.message : String(err)}${hint}`, { cause: err });
  }
  // ESM resolution needs the package's "type": "module" and its dependencies next to dist/.
  copyFileSync(join(tree, 'package.json'), join(out, 'package.json'));
  if (!existsSync(join(out, 'node_modules'))) symlinkSync(join(repo, 'node_modules'), join(out, 'node_modules'));
  return { main: join(out, 'dist', 'main.js'), source: ref ?? 'working tree', commit, dirty, buildMs: Date.now() - t0 };
}
