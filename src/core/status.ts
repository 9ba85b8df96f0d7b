// Read-only views of the daemon that the control API, metrics and sd_notify STATUS= render.

export type ServiceStateKind = 'stopped' | 'starting' | 'ready' | 'stopping' | 'failed';

export interface StartTimings {
  /** When the start began (epoch ms). */
  at: number;
  /** Container start request until the engine reported it running. */
  containerStartMs: number;
  /** Running until the readiness check passed. */
  readinessMs: number;
  /** Whether portwake started it (false: found already running). */
  startedByUs: boolean;
}

export interface ServiceStatus {
  name: string;
  container: string;
  state: ServiceStateKind;
  /** Message of the last failure, kept until the next successful start. */
  lastError: string | undefined;
  lastErrorCode: string | undefined;
  listeners: string[];
  openConnections: number;
  heldConnections: number;
  bytesIn: number;
  bytesOut: number;
  /** Epoch ms of the last connection open/close or byte, undefined if none yet. */
  lastActivity: number | undefined;
  lastStart: StartTimings | undefined;
  /** Epoch ms when the idle stop will happen, undefined when not armed. */
  idleDeadline: number | undefined;
}

/** Things that happen, for `GET /events`, metrics and logs. */
export type DaemonEvent =
  | { type: 'state'; service: string; from: ServiceStateKind; to: ServiceStateKind; at: number }
  | { type: 'activated'; service: string; timings: StartTimings; firstWaitMs: number | undefined; at: number }
  | { type: 'failed'; service: string; code: string; message: string; at: number }
  | { type: 'refused'; service: string; reason: 'max_connections' | 'max_pending' | 'start_failed' | 'shutting_down' | 'fd_limit'; at: number }
  | { type: 'connection'; service: string; change: 'open' | 'close'; at: number };
