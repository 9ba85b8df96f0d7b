// Every limits test again on the native data path: a connection to a ready service is forwarded
// in native code from the first byte, where its half-close is seen by the sweep (half-close.ts)
// rather than by a socket event.

import { useNativeDataPath } from './proxy-support.ts';

useNativeDataPath();
await import('./proxy-limits.test.ts');
