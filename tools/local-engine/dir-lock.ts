// A cross-process lock for processes that run at the same time (several node --test files, a demo
// starting the shared engine or building the same image): a directory made with mkdir, which is
// atomic, holding the owner's pid so that a lock left by a dead process can be broken.

import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';

const LOCK_DEADLINE_MS = 90_000;

/**
 * Runs fn while holding a cross-process lock (a directory created with mkdir, which is atomic).
 * A lock whose owner process is gone, or that never got an owner, is broken.
 */
export async function withLock<T>(lockDir: string, fn: () => Promise<T>, deadlineMs = LOCK_DEADLINE_MS): Promise<T> {
  const end = Date.now() + deadlineMs;
  mkdirSync(dirname(lockDir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(lockDir);
      writeFileSync(join(lockDir, 'owner'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (isStale(lockDir)) {
      const doomed = `${lockDir}.stale-${process.pid}-${randomBytes(4).toString('hex')}`;
      try {
        renameSync(lockDir, doomed); // atomic: only one breaker wins
        rmSync(doomed, { recursive: true, force: true });
      } catch {
        // someone else broke or released it
      }
      continue;
    }
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs / 1000}s waiting for the lock ${lockDir}`);
    await delay(150);
  }
  try {
    return await fn();
  } finally {
    rmSync(lockDir, { recursive: true, force: true });
  }
}

function isStale(lockDir: string): boolean {
  const pid = readPid(join(lockDir, 'owner'));
  if (pid !== undefined) return !isAlive(pid);
  try {
    return Date.now() - statSync(lockDir).mtimeMs > 10_000; // created but never owned: the creator died
  } catch {
    return false;
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, 'utf8').trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
