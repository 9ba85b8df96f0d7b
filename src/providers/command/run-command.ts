// One start:, stop: or status: command run to completion, bounded: past its deadline (or when the
// caller aborts) its process group is killed and the call rejects, saying so.

import { sleep, type Clock } from '../../core/clock.ts';
import { deadline } from '../../core/deadline.ts';
import { DeadlineError, EngineTimeoutError, ProviderError, describe, formatMs } from '../../core/errors.ts';
import { signalGroup, spawnGroup } from './child.ts';
import type { OutputLines } from './output.ts';
import { showArgv } from './spec.ts';

/** A command that did not finish in time and was killed; an EngineTimeoutError, so the activation treats it as an engine that hung. */
export class CommandTimeoutError extends EngineTimeoutError {
  constructor(endpoint: string, what: string, argv: readonly string[], timeoutMs: number, options?: { cause?: unknown }) {
    super(endpoint, `${what} command`, timeoutMs, options);
    this.message = `${what} command ${showArgv(argv)} did not finish within ${formatMs(timeoutMs)}; killed it`;
  }
}

/** How long after a command's exit its last output is waited for. */
const OUTPUT_DRAIN_MS = 200;

export interface RunOptions {
  /** 'start', 'stop' or 'status', for messages. */
  what: string;
  endpoint: string;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  output: OutputLines;
}

/**
 * Runs argv until it exits; resolves with its exit code (128+N for signal N). Rejects with
 * ProviderError when it cannot be run, CommandTimeoutError past timeoutMs or the caller's deadline
 * (after killing its process group), or the caller's reason when the caller aborts otherwise. The
 * group is not killed after a normal exit: a start command may leave the service running in it.
 */
export async function runCommand(argv: readonly string[], o: RunOptions): Promise<number> {
  o.signal?.throwIfAborted();
  const limit = deadline(o.clock, o.timeoutMs, o.signal);
  try {
    let spawned;
    try {
      spawned = await spawnGroup(argv, o.env);
    } catch (err) {
      throw new ProviderError(`${o.what} command ${showArgv(argv)} cannot be run: ${describe(err)}; check the program's name and PATH`, { cause: err });
    }
    o.output.follow(spawned.child.stdout, 'stdout');
    o.output.follow(spawned.child.stderr, 'stderr');
    let killed = false;
    const onAbort = (): void => {
      killed = true;
      signalGroup(spawned.pid, 'SIGKILL');
    };
    if (limit.signal.aborted) onAbort();
    else limit.signal.addEventListener('abort', onAbort, { once: true });
    const code = await spawned.exited;
    limit.signal.removeEventListener('abort', onAbort);
    // Output written just before the exit may still be in the pipes (for the error message); a
    // process the command left running may keep them open, so this wait is short.
    await Promise.race([spawned.closed, sleep(o.clock, OUTPUT_DRAIN_MS)]);
    if (!killed) return code;
    const reason: unknown = limit.signal.reason;
    if (reason instanceof DeadlineError) throw new CommandTimeoutError(o.endpoint, o.what, argv, reason.timeoutMs, { cause: reason });
    throw reason;
  } finally {
    limit.cancel();
  }
}
