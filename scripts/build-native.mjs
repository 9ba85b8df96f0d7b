// Builds portwake's optional native addon (src/native: the native data path) with
// node-gyp against this Node's headers. Run by `npm install` / `npm ci` (the package's install
// script) and by `npm run build:native`. Without a compiler the build fails and portwake moves
// every byte in JavaScript instead: the install goes on with a warning, unless --strict is given.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

const strict = process.argv.includes('--strict');
const root = resolve(import.meta.dirname, '..');

function giveUp(why) {
  const msg = `portwake: the native data-path addon was not built: ${why}. portwake works without it (every byte through JavaScript); to build it install g++, make and python3 and run \`npm run build:native\`.`;
  if (strict) {
    console.error(msg);
    process.exit(1);
  }
  console.warn(msg);
  process.exit(0);
}

if (process.platform !== 'linux') {
  console.log(`portwake: the native addon is Linux only; not built on ${process.platform}`);
  process.exit(0);
}

// npm tells its lifecycle scripts where its own node-gyp is; outside npm, look next to this Node.
const prefix = dirname(dirname(process.execPath));
const gyp = [process.env.npm_config_node_gyp, join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')]
  .find((p) => p !== undefined && p !== '' && existsSync(p));
if (gyp === undefined) giveUp('node-gyp not found (it comes with npm)');

// Node's headers: npm's nodedir setting, else those installed beside this Node (never a download:
// these machines have no route to nodejs.org).
const nodedir = process.env.npm_config_nodedir || (existsSync(join(prefix, 'include/node/node_api.h')) ? prefix : undefined);
const args = [gyp, 'rebuild', ...(nodedir === undefined ? [] : [`--nodedir=${nodedir}`])];
const run = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (run.status !== 0) {
  const tail = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  if (strict) console.error(tail);
  giveUp(`node-gyp exited with ${run.status ?? run.signal}${strict ? '' : ' (run `npm run build:native` to see its output)'}`);
}
console.log('portwake: built the native data-path addon (build/Release/portwake_native.node)');
