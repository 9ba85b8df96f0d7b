// The provider contract's fixture for an engine behind the Docker provider (Docker, Podman): busybox
// containers whose shell serves /www with httpd, made by that engine's own create helper.

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDockerProvider } from '../../src/providers/docker/provider.ts';
import type { Engine, TestContainer, TestContainerOptions } from './engine.ts';
import type { ContractContainerSpec, ProviderFixture } from './provider-contract.ts';

const SERVE = 'httpd -f -p 80 -h /www & wait';

export function engineContractFixture(o: {
  engine: Engine;
  image: string;
  create: (engine: Engine, opts: TestContainerOptions) => Promise<TestContainer>;
  /** More options for every container (Podman's image exposes no port: expose 80). */
  extra?: Partial<TestContainerOptions>;
  /** Names the socket nobody listens on, for the unreachable case. */
  what: string;
}): ProviderFixture {
  const created: TestContainer[] = [];
  return {
    provider: createDockerProvider({ host: o.engine.dockerHost }),
    async createStopped(spec: ContractContainerSpec = {}) {
      // The shell is PID 1: without a trap it would ignore SIGTERM (the kernel shields PID 1).
      const script = spec.crashAfterMs !== undefined
        ? `httpd -p 80 -h /www; sleep ${spec.crashAfterMs / 1000}; exit 1`
        : spec.ignoreSigterm === true ? `trap "" TERM; ${SERVE}` : `trap "exit 0" TERM; ${SERVE}`;
      const c = await o.create(o.engine, {
        image: o.image,
        nameHint: 'contract',
        cmd: ['sh', '-c', script],
        ...o.extra,
        ...(spec.healthcheck === true ? { healthcheck: { test: ['CMD', 'wget', '-q', '-O', '/dev/null', 'http://127.0.0.1/'], intervalMs: 300 } } : {}),
      });
      created.push(c);
      return { name: c.name };
    },
    unreachable: () => createDockerProvider({ host: `unix://${join(tmpdir(), `pwtest-no-${o.what}-${process.pid}.sock`)}` }),
    cleanup: async () => { await Promise.all(created.map((c) => c.remove())); },
  };
}
