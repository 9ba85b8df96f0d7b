// Every listener test again with native accepting (src/native/listener.c), as the daemon runs
// when the addon is built.

import { useNativeDataPath } from './proxy-support.ts';

useNativeDataPath();
await import('./proxy-listen.test.ts');
