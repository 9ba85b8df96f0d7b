// Shared by the systemd tests: free loopback ports, temp dirs, child processes that are killed on
// cleanup, and waiting for a line of their output with a deadline.

import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestContext } from 'node:test';

export const REPO = resolve(import.meta.dirname, '../..');

/**
 * Connects to 127.0.0.1:port and resolves how the connection ended: 'ended' when it was accepted and
 * then closed or reset (a start that fails resets the clients it held: README, failures), else the
 * connect error's code (ECONNREFUSED: nobody listens).
 */
export function knock(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    let accepted = false;
    s.once('connect', () => {
      accepted = true;
    });
    s.on('data', () => undefined);
    // A reset means something accepted the connection (portwake, closing it after a failed start):
    // on a busy machine the reset can arrive before the connect is reported. Nobody listening is ECONNREFUSED.
    s.once('error', (err: NodeJS.ErrnoException) => resolve(accepted || err.code === 'ECONNRESET' ? 'ended' : err.code ?? err.message));
    s.once('close', () => resolve('ended'));
  });
}

/** Free TCP ports on 127.0.0.1 (freePorts: several, all different). */
export { freePort, freePorts } from '../support/free-port.ts';

export function tempDir(t: TestContext, prefix = 'pw-systemd-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export interface Child {
  process: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the exit code (or the signal name). */
  exited: Promise<number | string>;
  /** Resolves once the output (stdout or stderr) matches; rejects after timeoutMs with what was seen. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

/** Spawns a process that is killed (SIGKILL) when the test ends, whatever happens. */
export function startChild(t: TestContext, command: string, args: readonly string[], options: SpawnOptions = {}): Child {
  const child = spawn(command, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], ...options });
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { out += d; for (const w of watchers) w(); });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { err += d; for (const w of watchers) w(); });
  const exited = new Promise<number | string>((r) => child.once('close', (code, signal) => r(code ?? signal ?? 'unknown')));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return {
    process: child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor: (pattern, timeoutMs = 15_000) =>
      new Promise<void>((resolvePromise, reject) => {
        let settled = false;
        const finish = (error: Error | undefined): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          watchers.delete(check);
          if (error === undefined) resolvePromise();
          else reject(error);
        };
        const check = (): void => {
          if (pattern.test(out) || pattern.test(err)) finish(undefined);
        };
        const timer = setTimeout(() => finish(new Error(`no ${String(pattern)} within ${timeoutMs} ms; stdout: ${out}; stderr: ${err}`)), timeoutMs);
        watchers.add(check);
        void exited.then((code) =>
          setImmediate(() => {
            check();
            finish(new Error(`exited (${code}) without ${String(pattern)}; stdout: ${out}; stderr: ${err}`));
          }));
        check();
      }),
  };
}

/** Node running a TypeScript file of this repo (same process, so LISTEN_PID matches). */
export function nodeTs(file: string): string[] {
  return [process.execPath, '--import', 'tsx', resolve(REPO, file)];
}

/** The backlog of the socket listening on 127.0.0.1:port, as `ss -ltn` shows it (Send-Q). */
export function listenBacklog(port: number): number {
  const r = spawnSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' });
  const line = r.stdout.split('\n').find((l) => l.includes(`127.0.0.1:${port}`));
  assert.ok(line !== undefined, `ss shows no listener on 127.0.0.1:${port}: ${r.stdout}${r.stderr}`);
  return Number(line.trim().split(/\s+/)[2]);
}
