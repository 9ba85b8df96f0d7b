// Maps what the engine client throws (socket errors, HTTP status errors) to portwake's error classes, so
// callers see ContainerNotFoundError, ProviderUnreachableError or ProviderError and nothing else.

import { abortedCall, ContainerNotFoundError, PortwakeError, ProviderError, ProviderUnreachableError } from '../../core/errors.ts';
import { EngineHttpError } from './engine-api.ts';

/** Socket and TLS failures that mean "the engine cannot be reached", not "the engine said no". */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'ENOENT', 'EACCES', 'EPERM', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ENOTSOCK', 'ECONNABORTED', 'ERR_SOCKET_CLOSED',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'ERR_TLS_CERT_ALTNAME_INVALID',
]);

export interface ErrorContext {
  endpoint: string;
  /** What was being done, e.g. 'start' or 'inspect'. */
  operation: string;
  container?: string;
  signal?: AbortSignal | undefined;
}

/**
 * The error to throw for a failed engine call: the signal's reason when the caller aborted (an
 * EngineTimeoutError when that was a deadline),
 * otherwise the matching PortwakeError with the original error as its cause.
 */
export function mapDockerError(err: unknown, ctx: ErrorContext): unknown {
  const subject = ctx.container === undefined ? `docker ${ctx.operation}` : `docker ${ctx.operation} of container "${ctx.container}"`;
  if (ctx.signal?.aborted === true) return abortedCall(ctx.signal, ctx.endpoint, subject);
  if (err instanceof PortwakeError) return err;
  const status = err instanceof EngineHttpError ? err.statusCode : undefined;
  if (status === 404 && ctx.container !== undefined) return new ContainerNotFoundError(ctx.container, { cause: err });
  if (status === undefined && isUnreachable(err)) return new ProviderUnreachableError(ctx.endpoint, { cause: err });
  const detail = err instanceof EngineHttpError ? `${err.engineMessage} (HTTP ${err.statusCode})` : describeLowLevel(err);
  return new ProviderError(`${subject} failed: ${detail}`, { cause: err });
}

function isUnreachable(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== undefined && (UNREACHABLE_CODES.has(code) || code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS'))) return true;
  }
  return false;
}

function describeLowLevel(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
}
