// An in-process portwake daemon run from a real config file (so the control API's POST /reload and
// reload() re-read it), against the test engine, with its log lines recorded and its shutdown
// registered with the test before it is used.

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { loadConfig } from '../../src/config/load.ts';
import type { DaemonEvent } from '../../src/core/status.ts';
import { Daemon } from '../../src/daemon/daemon.ts';
import { countingProvider, runDaemon, type CountingProvider } from './daemon-harness.ts';
import type { Engine } from './engine.ts';
import { recordingLogger, type LogLine } from './control-harness.ts';

export interface FileDaemon {
  daemon: Daemon;
  provider: CountingProvider;
  events: DaemonEvent[];
  logs: LogLine[];
  /** The config file; rewrite it with `write` and call daemon.reload() (or POST /reload). */
  path: string;
  write(yaml: string): Promise<void>;
}

/** A fresh directory under the system temp dir, removed when the test ends. */
export async function scratchDir(t: TestContext, prefix = 'pw-e2e-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes `yaml` to DIR/portwake.yaml and starts a daemon on it; shut down when the test ends. */
export async function startFileDaemon(t: TestContext, engine: Engine, dir: string, yaml: string, o: { graceMs?: number; stopOnExit?: boolean } = {}): Promise<FileDaemon> {
  const path = join(dir, 'portwake.yaml');
  await writeFile(path, yaml);
  const logs: LogLine[] = [];
  const running = await runDaemon(t, {
    config: await loadConfig(path),
    configPath: path,
    logger: recordingLogger(logs),
    provider: countingProvider(engine),
    stopOnExit: o.stopOnExit ?? false,
    graceMs: o.graceMs ?? 10_000,
  });
  return { ...running, logs, path, write: (text) => writeFile(path, text) };
}
