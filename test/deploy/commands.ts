// Helpers of the deployment tests: run a command to completion with a deadline, run a daemon until
// it logs that it is listening, and a PATH without a C/C++ compiler or make.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

export interface Result { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs a command to completion; killed (and so failing the caller's assertions) after timeoutMs. */
export function runCommand(cmd: string, args: readonly string[], o: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: o.env ?? process.env, cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => { stderr += `\n(killed after ${o.timeoutMs}ms)`; child.kill('SIGKILL'); }, o.timeoutMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('close', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}

/** Asserts success, with the command's output in the message otherwise. */
export function ok(r: Result, what: string): Result {
  if (r.code !== 0) throw new Error(`${what} failed (${r.code ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

export interface Daemon {
  proc: ChildProcess;
  output: () => string;
  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  stop(): Promise<void>;
}

/**
 * Starts a daemon and resolves once its output contains `listening` (within timeoutMs; its output
 * is in the error otherwise). Registers its cleanup (SIGKILL if still running) before returning.
 */
export async function startDaemon(t: TestContext, cmd: string, args: readonly string[], o: { env: NodeJS.ProcessEnv; listening: RegExp; timeoutMs: number }): Promise<Daemon> {
  const proc = spawn(cmd, args, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
  t.after(async () => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
    await closed;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${cmd} did not log ${o.listening} within ${o.timeoutMs}ms:\n${output}`)), o.timeoutMs);
    const onData = (d: string): void => {
      output += d;
      if (o.listening.test(output)) { clearTimeout(timer); resolve(); }
    };
    proc.stdout.setEncoding('utf8').on('data', onData);
    proc.stderr.setEncoding('utf8').on('data', onData);
    proc.once('close', (code, signal) => { clearTimeout(timer); reject(new Error(`${cmd} exited (${code ?? signal}) before listening:\n${output}`)); });
  });
  return {
    proc,
    output: () => output,
    stop: async () => {
      proc.kill('SIGTERM');
      const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await closed;
      clearTimeout(timer);
    },
  };
}

const COMPILERS = /^(cc|c\+\+|g\+\+|gcc|cpp|make|gmake|clang.*|.*-gcc.*|.*-g\+\+.*|.*-cpp.*|x86_64-linux-gnu-.*|aarch64-linux-gnu-.*)$/;

/**
 * A directory of symlinks to every program of the system's bin directories except compilers and
 * make: on this PATH node-gyp cannot build anything, as on a machine without g++ (nothing is
 * uninstalled).
 */
export function pathWithoutCompiler(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  for (const bin of ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    let names: string[];
    try {
      names = readdirSync(bin);
    } catch {
      continue;
    }
    for (const name of names) {
      if (COMPILERS.test(name) || seen.has(name)) continue;
      seen.add(name);
      symlinkSync(join(bin, name), join(dir, name));
    }
  }
  return dir;
}
