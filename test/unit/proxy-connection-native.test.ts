// Every connection test again on the native data path (src/native/conn.c): the same bytes, half-
// closes, resets, backpressure, lease, refusal and timeout behaviour as the JavaScript path.

import { useNativeDataPath } from './proxy-support.ts';

useNativeDataPath();
await import('./proxy-connection.test.ts');
