// The engine as discovery sees it: the labelled containers and the events that change that list
// (containers-list.ts, container-label-events.ts), on an engine client of its own.

import { lazyDockerClient } from './client.ts';
import { containerLabelEvents, type LabelEvent } from './container-label-events.ts';
import { listContainers, type ListedContainer } from './containers-list.ts';
import { resolveDockerHost, type DockerConnectOptions } from './docker-host.ts';

export interface DockerLabelSource {
  readonly endpoint: string;
  list(signal?: AbortSignal): Promise<ListedContainer[]>;
  events(signal: AbortSignal): AsyncIterable<LabelEvent>;
}

/** `labels`: the filters (`KEY` or `KEY=VALUE`) every container must match. Contacts the engine on first use. */
export function createDockerLabelSource(options: DockerConnectOptions, labels: readonly string[]): DockerLabelSource {
  const target = resolveDockerHost(options);
  const { endpoint } = target;
  const client = lazyDockerClient(target);
  return {
    endpoint,
    list: (signal) => listContainers(client, endpoint, labels, signal),
    events: (signal) => containerLabelEvents(client, endpoint, labels, signal),
  };
}
