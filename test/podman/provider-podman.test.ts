// The Docker provider pointed at a real Podman (4.3, `podman system service`): the shared provider
// contract, unchanged but for the health case (skipped, reason below). Podman's containers get PODMAN_ULIMITS (test/support/podman.ts).

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerProvider } from '../../src/providers/docker/provider.ts';
import type { TestContainer } from '../support/engine.ts';
import { createPodmanContainer, ensurePodmanImage, getPodman } from '../support/podman.ts';
import { providerContract, type ContractContainerSpec, type ProviderFixture } from '../support/provider-contract.ts';

const SERVE = 'httpd -f -p 80 -h /www & wait';

async function podmanFixture(): Promise<ProviderFixture> {
  const engine = await getPodman();
  const image = await ensurePodmanImage('busybox');
  const created: TestContainer[] = [];
  return {
    provider: createDockerProvider({ host: engine.dockerHost }),
    async createStopped(spec: ContractContainerSpec = {}) {
      // The shell is PID 1: without a trap it would ignore SIGTERM (the kernel shields PID 1).
      const script = spec.crashAfterMs !== undefined
        ? `httpd -p 80 -h /www; sleep ${spec.crashAfterMs / 1000}; exit 1`
        : spec.ignoreSigterm === true ? `trap "" TERM; ${SERVE}` : `trap "exit 0" TERM; ${SERVE}`;
      const c = await createPodmanContainer(engine, {
        image,
        nameHint: 'contract',
        cmd: ['sh', '-c', script],
        expose: [80],
        ...(spec.healthcheck === true ? { healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/'], intervalMs: 300 } } : {}),
      });
      created.push(c);
      return { name: c.name };
    },
    unreachable: () => createDockerProvider({ host: `unix://${join(tmpdir(), `pwtest-no-podman-${process.pid}.sock`)}` }),
    cleanup: async () => { await Promise.all(created.map((c) => c.remove())); },
  };
}

providerContract('podman', podmanFixture, {
  skip: {
    health: 'Podman runs HEALTHCHECKs from systemd timers; a Podman without systemd (these machines, CI) never runs them, ' +
      'so health stays "starting" and no health_status event comes (README: Podman)',
  },
});
