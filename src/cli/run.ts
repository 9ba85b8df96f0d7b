// `portwake run` (a config file) and `portwake proxy` (one service from flags): build the config,
// start the daemon, map signals to shutdown and reload. No business logic.

import { Command, Option } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { configFromFlags, type ProxyFlags } from '../config/flags.ts';
import { loadConfig } from '../config/load.ts';
import type { PortwakeConfig } from '../config/types.ts';
import { describe, PortwakeError } from '../core/errors.ts';
import { Daemon } from '../daemon.ts';
import { adoptSystemdListeners, LISTEN_FROM_SYSTEMD_FLAG } from '../systemd/adopt.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';

export const DEFAULT_CONFIG = 'portwake.yaml';

interface DaemonFlags {
  stopOnExit?: boolean;
  grace: string;
  exitIdleTime?: string;
  listenFromSystemd?: boolean;
}

function addDaemonOptions(cmd: Command): Command {
  return cmd
    .option('--stop-on-exit', 'on shutdown, stop the containers portwake started')
    .option('--grace <duration>', 'on shutdown, how long open connections may finish', '10s')
    .option('--exit-idle-time <duration>', 'exit when every service has been idle this long (for socket activation by systemd)')
    .addOption(new Option(LISTEN_FROM_SYSTEMD_FLAG, 'take every listener from the sockets systemd passed (set by generated units)'));
}

export function registerRun(program: Command, deps: CliDeps): void {
  addDaemonOptions(program.command('run').description('run the services of a config file'))
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & DaemonFlags & { config: string }>();
      const config = await loadConfig(o.config);
      await runDaemon(config, o.config, o, deps);
    });
}

/** The `proxy` command's options, shared by `portwake proxy` and `generate systemd -- …`. */
function proxyCommand(program: Command): Command {
  return addDaemonOptions(program.command('proxy').description('run one service from flags, no config file'))
    .requiredOption('--listen <address...>', 'PORT, HOST:PORT, [V6]:PORT, unix:/path, systemd[:NAME] (repeatable)')
    .requiredOption('--container <name>', 'the container to start on demand')
    .option('--name <name>', 'service name (default: the container name)')
    .option('--upstream <address>', 'forward to HOST:PORT or unix:/path instead of the container address')
    .option('--port <port>', 'container port to forward to')
    .option('--ready <how>', 'tcp, health, http, http:/PATH or delay:DURATION')
    .option('--start-timeout <duration>', 'readiness deadline')
    .option('--idle <duration>', 'stop the container after this long without connections')
    .option('--stop-timeout <duration>', 'grace period passed to the container stop')
    .option('--max-connections <n>', 'open proxied connections')
    .option('--max-pending <n>', 'connections held while starting')
    .option('--socket-mode <mode>', 'permissions of unix: listeners, e.g. 0660')
    .option('--engine <address>', 'container engine (default DOCKER_HOST)')
    .option('--control <address>', 'control API address')
    .option('--token <token>', 'control API token');
}

export function registerProxy(program: Command, deps: CliDeps): void {
  proxyCommand(program).action(async (_o: unknown, cmd: Command) => {
    const o = cmd.optsWithGlobals<GlobalOptions & DaemonFlags & ProxyFlags>();
    await runDaemon(configFromFlags(o), undefined, o, deps);
  });
}

/** Parses `portwake proxy` flags given as words (for `generate systemd -- --listen …`). */
export function proxyConfigFromArgs(args: readonly string[]): PortwakeConfig {
  const parent = new Command('portwake').exitOverride();
  let config: PortwakeConfig | undefined;
  proxyCommand(parent)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined })
    .action((o: ProxyFlags) => {
      config = configFromFlags(o);
    });
  try {
    parent.parse(['proxy', ...args], { from: 'user' });
  } catch (err) {
    throw new PortwakeError('USAGE', `proxy flags after "--": ${describe(err)}`, { cause: err });
  }
  if (config === undefined) throw new PortwakeError('USAGE', 'proxy flags after "--": nothing parsed');
  return config;
}

function durationFlag(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const r = parseDuration(text);
  if (!r.ok) throw new PortwakeError('USAGE', `${flag}: ${r.message}`);
  return r.value;
}

async function runDaemon(loaded: PortwakeConfig, configPath: string | undefined, o: GlobalOptions & DaemonFlags, deps: CliDeps): Promise<void> {
  const config = o.listenFromSystemd === true ? adoptSystemdListeners(loaded) : loaded;
  const logger = deps.makeLogger(o.logLevel);
  const daemon = await Daemon.start({
    config,
    configPath,
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
