// Error classes with a stable `code`, a message full of facts and a `cause`. Every layer wraps,
// the boundary that decides logs once (STYLE.md habit 4 and 5).

export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'CONTAINER_NOT_FOUND'
  | 'PROVIDER_UNREACHABLE'
  | 'PROVIDER_FAILED'
  | 'PROVIDER_TIMEOUT'
  | 'DEADLINE'
  | 'START_LIMITED'
  | 'DEPENDENCY_FAILED'
  | 'CONTAINER_EXITED'
  | 'CONTAINER_PAUSED'
  | 'READY_TIMEOUT'
  | 'UPSTREAM_UNRESOLVED'
  | 'LIMIT_REACHED'
  | 'ABORTED'
  | 'LISTEN_FAILED'
  | 'SYSTEMD_FDS'
  | 'USAGE';

export class PortwakeError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The container named in the config does not exist (HTTP 404 from the engine). */
export class ContainerNotFoundError extends PortwakeError {
  constructor(readonly container: string, options?: { cause?: unknown }) {
    super('CONTAINER_NOT_FOUND', `container "${container}" does not exist (create it first, e.g. "docker create --name ${container} …")`, options);
  }
}

/** The container engine could not be reached at all (socket missing, connection refused, TLS failure). */
export class ProviderUnreachableError extends PortwakeError {
  constructor(readonly endpoint: string, options?: { cause?: unknown }) {
    super('PROVIDER_UNREACHABLE', `container engine at ${endpoint} is unreachable${causeSuffix(options?.cause)}`, options);
  }
}

/** The engine answered, but refused or failed an operation. */
export class ProviderError extends PortwakeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PROVIDER_FAILED', message, options);
  }
}

/**
 * The reason a deadline signal (deadline.ts) aborts with: the wait it bounds took longer than
 * timeoutMs. A provider turns it into EngineTimeoutError, naming the call and the engine.
 */
export class DeadlineError extends PortwakeError {
  constructor(readonly timeoutMs: number) {
    super('DEADLINE', `no answer within ${formatMs(timeoutMs)}`);
  }
}

/** The engine took a request but did not answer it in time (a hung or overloaded dockerd). */
export class EngineTimeoutError extends PortwakeError {
  constructor(readonly endpoint: string, readonly operation: string, readonly timeoutMs: number, options?: { cause?: unknown }) {
    super('PROVIDER_TIMEOUT', `${operation}: engine did not answer within ${formatSeconds(timeoutMs)} (${endpoint}); check that it responds ("docker info")`, options);
  }
}

/**
 * What a provider throws when its call's signal aborted: an EngineTimeoutError when the signal was
 * a deadline (naming the call and the engine), else the caller's own reason.
 */
export function abortedCall(signal: AbortSignal, endpoint: string, operation: string): unknown {
  const reason: unknown = signal.reason;
  return reason instanceof DeadlineError ? new EngineTimeoutError(endpoint, operation, reason.timeoutMs, { cause: reason }) : reason;
}

/** Starts keep failing: none is tried until the back-off ends (systemd's start limit). */
export class StartLimitedError extends PortwakeError {
  constructor(readonly container: string, readonly until: number, last: PortwakeError) {
    const cause = last.cause instanceof Error ? last.cause : last;
    super(
      'START_LIMITED',
      `not starting container "${container}": its starts keep failing (last: ${describe(cause)}); backing off until ${new Date(until).toISOString()}, ` +
        '"portwake start" or a config reload retries at once',
      { cause: last },
    );
  }
}

/** A service this one depends on (dependsOn) could not be started or made ready; its own container was not started. */
export class DependencyFailedError extends PortwakeError {
  constructor(readonly dependency: string, cause: unknown) {
    super('DEPENDENCY_FAILED', `dependency "${dependency}" failed to start: ${describe(cause)}`, { cause });
  }
}

/** The container stopped while portwake was waiting for it to become ready. */
export class ContainerExitedError extends PortwakeError {
  constructor(readonly container: string, readonly exitCode: number | undefined) {
    super('CONTAINER_EXITED', `container "${container}" exited during start${exitCode === undefined ? '' : ` with code ${exitCode}`}`);
  }
}

/** A start of a paused container: the engine refuses it ("try unpause instead"). */
export class ContainerPausedError extends PortwakeError {
  constructor(readonly container: string, options?: { cause?: unknown }) {
    super('CONTAINER_PAUSED', `container "${container}" is paused; unpause it to run it again ("docker unpause ${container}")`, options);
  }
}

export class ReadyTimeoutError extends PortwakeError {
  constructor(readonly container: string, readonly timeoutMs: number, readonly lastProbe: string | undefined) {
    super('READY_TIMEOUT', `container "${container}" not ready after ${formatMs(timeoutMs)}${lastProbe === undefined ? '' : ` (last probe: ${lastProbe})`}`);
  }
}

export class UpstreamUnresolvedError extends PortwakeError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('UPSTREAM_UNRESOLVED', message, options);
  }
}

export class AbortedError extends PortwakeError {
  constructor(what: string) {
    super('ABORTED', `${what} was cancelled`);
  }
}

/** Adds the service name in front of a lower layer's error, keeping code and cause. */
export function forService(service: string, err: unknown): PortwakeError {
  if (err instanceof PortwakeError) {
    const wrapped = new PortwakeError(err.code, `service "${service}": ${err.message}`, { cause: err });
    return wrapped;
  }
  return new PortwakeError('PROVIDER_FAILED', `service "${service}": ${describe(err)}`, { cause: err });
}

/** One-line description of any thrown value, for logs and probe summaries. */
export function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}

function causeSuffix(cause: unknown): string {
  return cause === undefined ? '' : `: ${describe(cause)}`;
}

/** Whole seconds as "N s" (the unit spelled out, for messages about engine deadlines). */
export function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}

export function formatMs(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0 && ms > 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
