// What `portwake run` and `portwake proxy` do once argv is parsed: start the daemon, map signals to
// shutdown and reload, return when it has stopped. Loaded by their actions (cli/run.ts).

import { parseDuration } from '../config/duration.ts';
import type { PortwakeConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import { Daemon } from '../daemon.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';
import type { DaemonFlags } from './run.ts';

function durationFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const r = parseDuration(text);
  if (!r.ok) throw new PortwakeError('USAGE', `${flag}: ${r.message}`);
  return r.value;
}

export async function runDaemon(loaded: PortwakeConfig, configPath: string | undefined, o: GlobalOptions & DaemonFlags, deps: CliDeps): Promise<void> {
  const logger = deps.makeLogger(o.logLevel);
  const daemon = await Daemon.start({
    config: loaded,
    configPath,
    listenFromSystemd: o.listenFromSystemd === true,
    logger,
    env: deps.env,
    stopOnExit: o.stopOnExit === true,
    graceMs: durationFlag('--grace', o.grace) ?? 10_000,
    exitIdleMs: durationFlag('--exit-idle-time', o.exitIdleTime),
  });
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
