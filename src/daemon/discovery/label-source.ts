// What discovery needs of an engine, declared here by its consumer: the labelled containers, and
// the events that change that list. Docker's (and Podman's compatible API) is
// providers/docker/label-source.ts; wiring.ts makes one per engine.

export interface LabelledContainerInfo {
  id: string;
  /** Without the leading slash. */
  name: string;
  labels: Readonly<Record<string, string>>;
  /** When it was created, ms since the epoch: the older of two clashing containers keeps its service. */
  created: number;
}

export interface LabelSource {
  /** The engine's address, for messages. */
  readonly endpoint: string;
  /** Every container matching the query (stopped ones too). Rejects like a Provider's calls. */
  list(signal?: AbortSignal): Promise<LabelledContainerInfo[]>;
  /**
   * Creation, renaming and removal of matching containers, until the signal aborts (returns) or the
   * stream breaks (throws): after a break the consumer lists again, since events may have been missed.
   */
  events(signal: AbortSignal): AsyncIterable<{ kind: string; id: string; name: string }>;
}
