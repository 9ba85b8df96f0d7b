// `npm run portwake -- ARGS`: the command from this checkout's source (src/, through tsx), in the
// directory npm was started from — npm runs scripts in the package's own directory, where
// `-c portwake.yaml` would name the wrong file. Installed copies run dist/main.js instead.

import { register } from 'tsx/esm/api';

process.chdir(process.env.INIT_CWD || process.cwd());
register();
await import('../src/main.ts');
