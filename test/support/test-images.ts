// The offline image recipes (tools/local-engine/images.ts) for tests that build images of their
// own on top: a busybox tree that greets as portwake-test, and the import and lookup.

import { buildBusyboxRoot as buildBusyboxRootFor } from '../../tools/local-engine/images.ts';
import { TEST_OWNER } from './engine.ts';

export { hasImage, importRootfs } from '../../tools/local-engine/images.ts';

/** A busybox tree whose /www/index.html says "hello from portwake-test". */
export function buildBusyboxRoot(root: string): void {
  buildBusyboxRootFor(root, TEST_OWNER.imageRepo);
}
