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
  /** The native splice addon was built with it (bulk streams go through splice(2)). */
  splice: boolean;
  buildMs: number;
}

const ADDON = 'portwake_native.node';

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
    // The native addon's build files, where the commit has them (older ones do not).
    const has = (path: string): boolean => {
      try {
        runQuiet('git', ['-C', repo, 'cat-file', '-e', `${commit}:${path}`]);
        return true;
      } catch {
        return false;
      }
    };
    const native = ['binding.gyp', 'scripts'].filter(has);
    runQuiet('git', ['-C', repo, 'archive', '-o', archive, commit, 'src', 'package.json', 'tsconfig.json', 'tsconfig.build.json', ...native]);
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
  // The zero-copy addon, built from the same tree (strictly: a bench of a tree that has it must use it).
  let splice = false;
  const buildNative = join(tree, 'scripts', 'build-native.mjs');
  if (existsSync(buildNative)) {
    runQuiet(process.execPath, [buildNative, '--strict'], { cwd: tree });
    mkdirSync(join(out, 'build', 'Release'), { recursive: true });
    copyFileSync(join(tree, 'build', 'Release', ADDON), join(out, 'build', 'Release', ADDON));
    splice = true;
  }
  return { main: join(out, 'dist', 'main.js'), source: ref ?? 'working tree', commit, dirty, splice, buildMs: Date.now() - t0 };
}
