// The Docker provider pointed at a real Podman (4.3, `podman system service`): the shared provider
// contract, unchanged but for the health case (skipped, reason below). Podman's containers get PODMAN_ULIMITS (test/support/podman.ts).

import { engineContractFixture } from '../support/engine-contract-fixture.ts';
import { createPodmanContainer, ensurePodmanImage, getPodman } from '../support/podman.ts';
import { providerContract, type ProviderFixture } from '../support/provider-contract.ts';

const podmanFixture = async (): Promise<ProviderFixture> =>
  engineContractFixture({ engine: await getPodman(), image: await ensurePodmanImage('busybox'), create: createPodmanContainer, extra: { expose: [80] }, what: 'podman' });

providerContract('podman', podmanFixture, {
  skip: {
    health: 'Podman runs HEALTHCHECKs from systemd timers; a Podman without systemd (these machines, CI) never runs them, ' +
      'so health stays "starting" and no health_status event comes (README: Podman)',
  },
});
