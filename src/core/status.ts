// Read-only views of the daemon that the control API, metrics and sd_notify STATUS= render.

export type ServiceStateKind = 'stopped' | 'starting' | 'ready' | 'pausing' | 'paused' | 'unpausing' | 'stopping' | 'failed';

export interface StartTimings {
  /** When the start began (epoch ms). */
  at: number;
  /** Container start request until the engine reported it running. */
  containerStartMs: number;
  /** Running until the readiness check passed. */
  readinessMs: number;
  /** Whether portwake started it (false: found already running). */
  startedByUs: boolean;
  /** A wake from paused: containerStartMs is the unpause (no readiness check follows one). */
  unpaused?: boolean;
}

export interface ServiceStatus {
  name: string;
  container: string;
  /** The engine the container is on ("default", or a name from engines:), or "command" for a command service; set by the daemon. */
  engine?: string;
  state: ServiceStateKind;
  /** Message of the last failure, kept until the next successful start. */
  lastError: string | undefined;
  lastErrorCode: string | undefined;
  listeners: string[];
  openConnections: number;
  heldConnections: number;
  /**
   * Of openConnections, those whose client has half-closed while the upstream has sent nothing
   * since (closed after halfCloseTimeout without upstream progress).
   */
  halfClosedConnections?: number;
  /** What idleTimeout counts: 'connections' (none open) or 'traffic' (no bytes moved). */
  idleOn?: 'connections' | 'traffic';
  /** What the idle timeout does: stop the container (the default) or pause it. */
  idleAction?: 'stop' | 'pause';
  bytesIn: number;
  bytesOut: number;
  /** Epoch ms of the last connection open/close or byte, undefined if none yet. */
  lastActivity: number | undefined;
  lastStart: StartTimings | undefined;
  /** Epoch ms when the idle stop (or pause) will happen — while paused, the stopAfter stop — undefined when not armed. */
  idleDeadline: number | undefined;
  /** While failed starts back off (start limit): epoch ms until which connections are refused without a start, and how many were. */
  backoffUntil?: number;
  backoffRefused?: number;
  /** For a service behind the HTTP router (`hosts:`): requests, waiting pages served, 503 answers, open upgraded connections. */
  http?: { requests: number; waitingPages: number; unavailable: number; upgraded: number };
}

/** Things that happen, for `GET /events`, metrics and logs. */
export type DaemonEvent =
  | { type: 'state'; service: string; from: ServiceStateKind; to: ServiceStateKind; at: number }
  | { type: 'activated'; service: string; timings: StartTimings; firstWaitMs: number | undefined; at: number }
  | { type: 'failed'; service: string; code: string; message: string; at: number }
  | { type: 'refused'; service: string; reason: 'max_connections' | 'max_pending' | 'start_failed' | 'shutting_down' | 'fd_limit' | 'hold_timeout' | 'backing_off' | 'wake_refused'; at: number }
  /** spliced: on close, whether the connection's bulk bytes went through the zero-copy pump. */
  | { type: 'connection'; service: string; change: 'open' | 'close'; at: number; spliced?: boolean; reason?: string };

export interface ReloadResult {
  added: string[];
  removed: string[];
  changed: string[];
}

/** What the control API (and sd_notify) may ask of a running daemon. */
export interface DaemonControl {
  status(): ServiceStatus[];
  /** Starts the service now (as a connection would); resolves once ready, rejects with a PortwakeError. */
  start(service: string): Promise<void>;
  /** Drains (waits for open connections to end) and stops the service's container. */
  stop(service: string): Promise<void>;
  /** Calls fn for every event until the returned function is called. */
  subscribe(fn: (event: DaemonEvent) => void): () => void;
  /** Re-reads the config file; rejects with the config errors and keeps the running config on failure. */
  reload(): Promise<ReloadResult>;
}
