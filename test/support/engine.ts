// The real Docker engine every Docker test runs against (tools/local-engine: DOCKER_HOST if it
// answers, else the shared private dockerd), with the tests' own names: containers pwtest-…
// labelled portwake-test=1, images portwake-test/*.

import * as containers from '../../tools/local-engine/containers.ts';
import { getEngine, type Engine, type Owner } from '../../tools/local-engine/engine.ts';
import * as images from '../../tools/local-engine/images.ts';

export { findBinary, getEngine, type Engine } from '../../tools/local-engine/engine.ts';
export type TestImage = images.LocalImage;
export type TestContainerOptions = containers.ContainerOptions;
export type TestContainer = containers.LocalContainer;

/** What the tests create on the engine; .ci/run and developers find it by these names. */
export const TEST_OWNER: Owner = { containerPrefix: 'pwtest', label: 'portwake-test', imageRepo: 'portwake-test' };

/** Returns the reference of the test image, building it offline (docker import) if absent. */
export async function ensureImage(name: TestImage): Promise<string> {
  return images.ensureImage(await getEngine(), name, TEST_OWNER);
}

/** Creates a uniquely named container labelled portwake-test=1. Register `t.after(() => c.remove())`. */
export function createContainer(engine: Engine, opts: TestContainerOptions): Promise<TestContainer> {
  return containers.createContainer(engine, { ...opts, nameHint: opts.nameHint ?? 'c' }, TEST_OWNER);
}
