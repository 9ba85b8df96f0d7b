// What every workload receives: the engine, the built portwake, a temp dir, the cleanup stack,
// the run's mode, and a progress line printer.

import type { Engine } from '../../test/support/engine.ts';
import type { Build } from './build.ts';
import type { Cleanup } from './cleanup.ts';

export interface BenchContext {
  repo: string;
  /** A fresh temp dir for this run: logs, scripts, configs, the build. */
  tmp: string;
  engine: Engine;
  images: { nginx: string; busybox: string };
  build: Build;
  cleanup: Cleanup;
  quick: boolean;
  /** Set with --profile: portwake runs under --cpu-prof and writes its profiles under this dir. */
  profileDir: string | undefined;
  /** One progress line on stderr. */
  say(line: string): void;
}

/** The contenders in the order of round r: each one goes first in turn, so drift hits all alike. */
export function rotate<T>(items: readonly T[], r: number): T[] {
  const k = r % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
