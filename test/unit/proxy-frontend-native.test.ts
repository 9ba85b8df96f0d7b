// Every frontend test again on the native data path, as the daemon runs when the addon is built:
// TCP listeners accept in native code, and connections to a ready service are forwarded there
// (src/native/); held connections are wrapped into JavaScript sockets.

import { useNativeDataPath } from './proxy-support.ts';

useNativeDataPath();
await import('./proxy-frontend.test.ts');
