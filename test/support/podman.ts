// The real Podman every test under test/podman runs against (tools/local-engine/podman.ts: a private
// `podman system service`, shared and left running), with the tests' own names as on Docker:
// containers pwtest-… labelled portwake-test=1 (always with PODMAN_ULIMITS), images portwake-test/*.

import * as containers from '../../tools/local-engine/containers.ts';
import type { Engine } from '../../tools/local-engine/engine.ts';
import * as images from '../../tools/local-engine/images.ts';
import { getPodman, PODMAN_ULIMITS } from '../../tools/local-engine/podman.ts';
import { TEST_OWNER, type TestContainer, type TestContainerOptions, type TestImage } from './engine.ts';

export { getPodman, PODMAN_DIR, runPodman, startPodmanService } from '../../tools/local-engine/podman.ts';

/** Returns the reference of the test image on Podman, importing it offline if absent (the same recipe as Docker's). */
export async function ensurePodmanImage(name: TestImage): Promise<string> {
  return images.ensureImage(await getPodman(), name, TEST_OWNER);
}

/** Creates a uniquely named container on Podman labelled portwake-test=1. Register `t.after(() => c.remove())`. */
export function createPodmanContainer(engine: Engine, opts: TestContainerOptions): Promise<TestContainer> {
  return containers.createContainer(engine, { ...opts, nameHint: opts.nameHint ?? 'c', ulimits: opts.ulimits ?? PODMAN_ULIMITS }, TEST_OWNER);
}
