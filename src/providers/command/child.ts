// Spawning a command in a process group of its own, signalling the group, and its exit status told
// as a container's (a signal N is 128+N: SIGTERM 143, SIGKILL 137).

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

export interface Spawned {
  child: ChildProcess;
  pid: number;
  /** Resolves with the exit code (128+N for signal N) when the process exits. */
  exited: Promise<number>;
  /** Resolves when its stdout and stderr are closed (possibly never: a child it left may hold them). */
  closed: Promise<void>;
}

/**
 * Spawns argv in a new process group (so that a stop reaches the whole tree a shell started) with
 * stdin closed and stdout/stderr piped. Resolves once the process runs; rejects with the spawn
 * error (ENOENT, EACCES) when it cannot.
 */
export function spawnGroup(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<Spawned> {
  const [file, ...args] = argv;
  if (file === undefined) return Promise.reject(new Error('empty command'));
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
    const exited = new Promise<number>((done) => {
      child.once('exit', (code, signal) => done(exitCode(code, signal)));
    });
    const closed = new Promise<void>((done) => {
      child.once('close', () => done());
    });
    child.once('error', (err) => {
      // 'error' after 'spawn' (a failed kill) changes nothing: the exit still comes.
      if (child.pid === undefined) reject(err);
    });
    child.once('spawn', () => {
      if (child.pid === undefined) return;
      resolve({ child, pid: child.pid, exited, closed });
    });
  });
}

export function exitCode(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal === null ? undefined : (constants.signals as Record<string, number | undefined>)[signal];
  return n === undefined ? 255 : 128 + n;
}

/** Signals the process group of pid; false when it is gone already. */
export function signalGroup(pid: number, signal: 'SIGTERM' | 'SIGKILL'): boolean {
  try {
    process.kill(-pid, signal);
    return true;
  } catch {
    return false;
  }
}
