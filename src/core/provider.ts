// The contract every container runtime's provider implements (Docker, Podman, Swarm, fake). The
// consumer — the activation core — declares it; providers `satisfies Provider`. (Not to be mixed up
// with `Backend` in backend.ts: the proxy's view of one activated service.)

/** Where bytes go: a TCP address or a Unix socket path. */
export type Endpoint =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'unix'; path: string };

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
export type HealthStatus = 'none' | 'starting' | 'healthy' | 'unhealthy';

export interface PublishedPort {
  containerPort: number;
  hostIp: string;
  hostPort: number;
}

export interface ContainerNetwork {
  name: string;
  /** IPv4 address on that network, '' when none. */
  ipAddress: string;
  /** IPv6 address on that network, '' when none. */
  globalIPv6Address: string;
}

export interface ContainerInfo {
  id: string;
  /** Name without the leading slash. */
  name: string;
  status: ContainerStatus;
  running: boolean;
  health: HealthStatus;
  exitCode: number | undefined;
  /** TCP ports the image exposes or the container publishes (container side), ascending, unique. */
  exposedPorts: number[];
  published: PublishedPort[];
  networks: ContainerNetwork[];
  /** Network mode ('bridge', 'host', 'none', 'container:…', a network name). */
  networkMode: string;
  /** Whether a HEALTHCHECK is configured. */
  hasHealthcheck: boolean;
  /**
   * When the current (or last) run started, in ms since the epoch by the engine's clock — the same
   * clock as ContainerEvent.time, so an event can be told apart from a previous run's. Undefined
   * when it never ran.
   */
  startedAt: number | undefined;
  /**
   * The engine's restart policy ('no', 'always', 'unless-stopped', 'on-failure'); undefined where
   * the runtime has none. 'always' and 'unless-stopped' bring a container back after an engine
   * restart, against the idle stop.
   */
  restartPolicy?: string;
}

export type ContainerEventKind = 'start' | 'die' | 'stop' | 'kill' | 'health' | 'destroy' | 'pause' | 'unpause';

export interface ContainerEvent {
  kind: ContainerEventKind;
  id: string;
  name: string;
  /** For kind 'health': the new health status. For 'die': the exit code when known. */
  health?: HealthStatus;
  exitCode?: number;
  /** Milliseconds since the epoch, from the engine. */
  time: number;
}

/**
 * A container runtime, as the activation core sees it. Every method takes an AbortSignal; on abort it rejects with the signal's
 * reason. Errors are `ContainerNotFoundError`, `ProviderUnreachableError` or `ProviderError`.
 */
export interface Provider {
  /** Human description of the endpoint, e.g. "unix:///var/run/docker.sock". */
  readonly endpoint: string;
  inspect(container: string, signal?: AbortSignal): Promise<ContainerInfo>;
  /**
   * Starts the container; resolves when the engine reports it started: true when this call started
   * it, false when it was already running (success too).
   */
  start(container: string, signal?: AbortSignal): Promise<boolean>;
  /** Stops with a grace period (SIGTERM, then SIGKILL after graceSeconds). Not running is success. */
  stop(container: string, graceSeconds: number, signal?: AbortSignal): Promise<void>;
  /**
   * Streams container events until the signal aborts (then the iterator returns) or the stream
   * breaks (then it throws ProviderUnreachableError). The consumer reconnects and re-inspects.
   */
  events(signal: AbortSignal): AsyncIterable<ContainerEvent>;
  /**
   * Sets the container's restart policy to "no" (restartPolicy: manage). Left out by providers whose
   * runtime has no restart policies.
   */
  disableRestart?(container: string, signal?: AbortSignal): Promise<void>;
  /** Liveness of the engine itself (GET /_ping). */
  ping(signal?: AbortSignal): Promise<void>;
  /**
   * Optional capability (see canPause): freezes a running container — its processes keep their
   * memory and sockets but get no CPU (`docker pause`). Resolves true when this call froze it,
   * false when it was paused already. A container that is not running is an error (ProviderError).
   */
  pause?(container: string, signal?: AbortSignal): Promise<boolean>;
  /**
   * Optional capability (see canPause): thaws a paused container. Resolves true when this call
   * thawed it, false when it was not paused — then it may be running or stopped: inspect (or
   * start) to know. A `start` of a paused container rejects with ContainerPausedError.
   */
  unpause?(container: string, signal?: AbortSignal): Promise<boolean>;
}

/** A provider that can pause and unpause containers (Docker, Podman; not `command`). */
export type PausingProvider = Provider & Required<Pick<Provider, 'pause' | 'unpause'>>;

export function canPause(provider: Provider): provider is PausingProvider {
  return provider.pause !== undefined && provider.unpause !== undefined;
}
