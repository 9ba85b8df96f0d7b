// npm's `prepare` (run by `npm ci`, `npm pack`, and by `npx portwake` in a clone, which installs
// the clone as a directory dependency): builds dist/ with tsc unless it is newer than every file
// it is built from, so the second and later runs cost a directory walk instead of a build.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return readdirSync(path).reduce((max, name) => Math.max(max, newest(join(path, name))), st.mtimeMs);
}

const built = join(root, 'dist/main.js');
const inputs = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'].map((p) => join(root, p));
if (existsSync(built) && statSync(built).mtimeMs > Math.max(...inputs.map(newest))) {
  console.log('portwake: dist/ is newer than src/, not rebuilt');
  process.exit(0);
}
const tscPath = join(root, 'node_modules/typescript/bin/tsc');
if (!existsSync(tscPath)) {
  // `npm ci --omit=dev` (a production install of a clone): no compiler, so nothing to build with.
  // Not an error: the install goes on, and running portwake says how to build it.
  console.log('portwake: TypeScript is not installed (a production install?), dist/ not built; run `npm ci` (with dev dependencies) then `npm run build`');
  process.exit(0);
}
const tsc = spawnSync(process.execPath, [tscPath, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });
process.exit(tsc.status ?? 1);
