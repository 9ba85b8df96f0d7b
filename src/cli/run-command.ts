// What `portwake run` and `portwake proxy` do once argv is parsed: start the daemon, map signals to
// shutdown and reload, return when it has stopped. Loaded by their actions (cli/run.ts).

import { parseDuration } from '../config/duration.ts';
import type { FoundConfig } from '../config/find-file.ts';
import type { PortwakeConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import { Daemon } from '../daemon/daemon.ts';
import { createProvider } from '../daemon/wiring.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';
import type { DaemonFlags } from './run.ts';
import { startupCheck } from './startup-check.ts';

function durationFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const r = parseDuration(text);
  if (!r.ok) throw new PortwakeError('USAGE', `${flag}: ${r.message}`);
  return r.value;
}

/** Runs the daemon on a config from a file (configFile: which, and how it was chosen) or from flags (undefined). */
export async function runDaemon(loaded: PortwakeConfig, configFile: FoundConfig | undefined, o: GlobalOptions & DaemonFlags, deps: CliDeps): Promise<void> {
  const logger = deps.makeLogger(o.logLevel);
  if (configFile !== undefined) logger.info({ config: configFile.path }, `config: ${configFile.path} (${configFile.how})`);
  const daemon = await Daemon.start({
    config: loaded,
    configPath: configFile?.path,
    listenFromSystemd: o.listenFromSystemd === true,
    logger,
    env: deps.env,
    stopOnExit: o.stopOnExit === true,
    graceMs: durationFlag('--grace', o.grace) ?? 10_000,
    exitIdleMs: durationFlag('--exit-idle-time', o.exitIdleTime),
  });
  // The start-up check: not under socket activation, where a connection is already waiting for its
  // cold start and inspecting every container beside it would slow that down (`portwake check`
  // does it there). With an engine client of its own: on the daemon's kept-alive connection a first
  // start's request would go out ahead of its events subscription, which must be asked for first.
  const checking = new AbortController();
  if (o.listenFromSystemd !== true) {
    const provider = createProvider(loaded, deps.env);
    void startupCheck(loaded.services, provider, logger, checking.signal);
  }
  void daemon.done.then(() => checking.abort());
  let signals = 0;
  let now!: () => void;
  const impatient = new Promise<void>((resolve) => { now = resolve; });
  const stop = (): void => {
    signals++;
    if (signals > 1) {
      // Returning ends the process (main.ts), which closes every open connection at once.
      logger.warn({}, 'second signal: exiting now, closing open connections');
      now();
      return;
    }
    void daemon.shutdown('signal');
  };
  deps.onSignal('SIGTERM', stop);
  deps.onSignal('SIGINT', stop);
  deps.onSignal('SIGHUP', () => {
    // A rejected reload is logged by the daemon; the running config stays in force.
    daemon.reload().catch(() => undefined);
  });
  await Promise.race([daemon.done, impatient]);
}
