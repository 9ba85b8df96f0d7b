// Child processes of the bench: spawned in their own process group (so a chain like
// systemd-socket-activate → sh → docker/proxyd is stopped as a whole), their CPU time and RSS
// read from /proc, and a bounded wait for them to exit.

import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import type { Cleanup } from './cleanup.ts';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

export interface Child {
  proc: ChildProcess;
  pid: number;
  /** File with the child's stdout and stderr. */
  logFile: string;
  exited: Promise<number | string>;
  /** SIGTERM (or the given signal) to the group, then SIGKILL after graceMs; resolves when it exited. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

/** Spawns `cmd args` in its own process group with output to logFile; registered for cleanup. */
export function spawnChild(cleanup: Cleanup, cmd: string, args: readonly string[], logFile: string, options: SpawnOptions = {}): Child {
  const fd = openSync(logFile, 'a');
  const proc = spawn(cmd, args, { ...options, detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (proc.pid === undefined) throw new Error(`cannot spawn ${cmd}`);
  const pid = proc.pid;
  let exitedWith: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    proc.once('exit', (code, sig) => {
      exitedWith = sig ?? code ?? 'unknown';
      resolve(exitedWith);
    });
    proc.once('error', (err) => {
      exitedWith = err.message;
      resolve(exitedWith);
    });
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5_000): Promise<void> => {
    killGroup(pid, signal);
    const timer = delay(graceMs).then(() => 'timeout' as const);
    if ((await Promise.race([exited, timer])) === 'timeout') {
      killGroup(pid, 'SIGKILL');
      await exited;
    }
    // Whatever the leader left behind in its group (a `docker start -a` of the recipe chain).
    killGroup(pid, 'SIGKILL');
  };
  const undo = cleanup.defer(`stop ${cmd} (pid ${pid})`, () => (exitedWith === undefined ? stop() : killGroup(pid, 'SIGKILL')));
  return { proc, pid, logFile, exited, stop: async (signal, graceMs) => { await stop(signal, graceMs); await undo(); } };
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/** User + system CPU seconds of a live process (/proc/PID/stat fields 14 and 15). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size in KiB (VmRSS of /proc/PID/status). */
export function rssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]);
}

/** Runs a command to completion (bounded), returning its output; throws with stderr on failure. */
export function runQuiet(cmd: string, args: readonly string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, env: options.env ?? process.env, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? r.signal ?? `status ${r.status}`}):\n${`${r.stdout}${r.stderr}`.trim().split('\n').slice(-30).join('\n')}`);
  }
  return r.stdout;
}

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function waitUntil<T>(what: string, check: () => T | undefined, timeoutMs: number, everyMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await delay(everyMs);
  }
}

/** The last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
