// One provider's engine client, created on first use: a daemon whose services are all stopped
// never talks to the engine, so it does not load node:http (or node:https and TLS) either.

import { createEngineApi, type EngineApi } from './engine-api.ts';
import type { DockerTarget } from './docker-host.ts';

/** Resolves to the client, creating it on the first call; a failed creation is retried by the next call. */
export type DockerClient = () => Promise<EngineApi>;

export function lazyDockerClient(target: DockerTarget): DockerClient {
  let client: Promise<EngineApi> | undefined;
  return () => {
    client ??= createEngineApi(target).catch((err: unknown) => {
      client = undefined;
      throw err;
    });
    return client;
  };
}
