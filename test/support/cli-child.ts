// The real portwake CLI as a child process (`node --import tsx src/main.ts …`) pointed at the test
// engine: its stdout, its stderr parsed as JSON log lines, its exit, and cleanup registered first.

import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Engine } from './engine.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const MAIN = join(ROOT, 'src', 'main.ts');

/** One pino line: level (30 info, 40 warn, 50 error), msg, and the fields of the call. */
export interface LogRecord {
  level: number;
  msg: string;
  [field: string]: unknown;
}

export interface Exit { code: number | null; signal: NodeJS.Signals | null; at: number }

export interface CliChild {
  readonly proc: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Every stderr line that parsed as JSON, in order. */
  readonly logs: LogRecord[];
  /** Every non-empty stderr line that did not parse as JSON. */
  readonly otherLines: string[];
  readonly exited: Promise<Exit>;
  /** Resolves with the first log record (seen or to come) matching `pred`; rejects on exit or timeout. */
  waitForLog(what: string, pred: (l: LogRecord) => boolean, timeoutMs?: number): Promise<LogRecord>;
  kill(signal: NodeJS.Signals): void;
}

/**
 * Spawns `portwake ARGS` with DOCKER_HOST set to the test engine (with `nofile`: under that
 * open-file limit). Registers, before returning, a cleanup that SIGKILLs the child if it is still
 * running and waits for it.
 */
export function spawnCli(t: TestContext, engine: Pick<Engine, 'dockerHost'>, args: readonly string[], env: Record<string, string> = {}, o: { nofile?: number } = {}): CliChild {
  const node = [process.execPath, '--import', 'tsx', MAIN, ...args];
  const [command = '', ...argv] = o.nofile === undefined ? node : ['/bin/sh', '-c', `ulimit -n ${o.nofile} && exec "$0" "$@"`, ...node];
  const proc = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, DOCKER_HOST: engine.dockerHost, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let partial = '';
  const logs: LogRecord[] = [];
  const otherLines: string[] = [];
  const watchers = new Set<() => void>();
  let exit: Exit | undefined;
  const exited = new Promise<Exit>((resolve) => {
    // 'close', not 'exit': by then the pipes have delivered everything the child wrote.
    proc.once('close', (code, signal) => {
      exit = { code, signal, at: Date.now() };
      resolve(exit);
      for (const w of [...watchers]) w();
    });
  });
  t.after(async () => {
    if (exit === undefined) proc.kill('SIGKILL');
    await exited;
  });
  proc.stdout?.setEncoding('utf8').on('data', (s: string) => { out += s; });
  proc.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
    partial += s;
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        logs.push(JSON.parse(line) as LogRecord);
      } catch {
        otherLines.push(line);
      }
    }
    for (const w of [...watchers]) w();
  });

  const child: CliChild = {
    proc,
    stdout: () => out,
    stderr: () => err,
    logs,
    otherLines,
    exited,
    waitForLog(what, pred, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const found = logs.find(pred);
          if (found !== undefined) finish(() => resolve(found));
          else if (exit !== undefined) finish(() => reject(new Error(`portwake exited (${exit?.code ?? exit?.signal}) before logging ${what}; stderr:\n${err}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no log line for ${what} within ${timeoutMs}ms; stderr:\n${err}`))), timeoutMs);
        const finish = (fn: () => void): void => {
          clearTimeout(timer);
          watchers.delete(check);
          fn();
        };
        watchers.add(check);
        check();
      });
    },
    kill(signal) {
      proc.kill(signal);
    },
  };
  return child;
}

/** Starts a daemon command (`run`, `proxy`) and resolves once it logs that it is listening. */
export async function startCliDaemon(t: TestContext, engine: Pick<Engine, 'dockerHost'>, args: readonly string[], o: { nofile?: number } = {}): Promise<CliChild> {
  const child = spawnCli(t, engine, args, {}, o);
  await child.waitForLog('"listening:"', (l) => l.msg.startsWith('listening:'), 30_000);
  return child;
}

export interface CliResult { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }

/** Runs a command to completion (killed after timeoutMs, which fails the caller's assertions). */
export async function runCli(t: TestContext, engine: Pick<Engine, 'dockerHost'>, args: readonly string[], timeoutMs = 30_000): Promise<CliResult> {
  const child = spawnCli(t, engine, args);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const exit = await child.exited;
  clearTimeout(timer);
  return { code: exit.code, signal: exit.signal, stdout: child.stdout(), stderr: child.stderr() };
}
