// `portwake run` (a config file) and `portwake proxy` (one service from flags): their options, and
// actions that load the config and then the daemon only when they run, so that the other commands
// do not load either; then the daemon runs until a signal stops it (SIGHUP reloads).

import { Command, Option } from 'commander';
import { parseDuration } from '../config/duration.ts';
import { findConfigFile, type ConfigSearch, type FoundConfig } from '../config/find-file.ts';
import type { ProxyFlags } from '../config/flags.ts';
import type { DiscoverFlags } from '../config/discovery.ts';
import type { PortwakeConfig } from '../config/types.ts';
import { describe, PortwakeError } from '../core/errors.ts';
import { createProviders, createServiceProviders, servicesByProvider } from '../daemon/wiring.ts';
import { LISTEN_FROM_SYSTEMD_FLAG } from '../systemd/adopt.ts';
import type { CliDeps, GlobalOptions } from './deps.ts';

/** What -c says when it is left out. */
export const CONFIG_HELP = 'config file (default: ./portwake.yaml, else $PORTWAKE_CONFIG, else /etc/portwake/portwake.yaml)';

/** Where the commands look for a config file when -c is left out. */
export function configSearch(deps: Pick<CliDeps, 'cwd' | 'env' | 'systemConfigPath'>): ConfigSearch {
  return { cwd: deps.cwd ?? process.cwd(), env: deps.env, ...(deps.systemConfigPath === undefined ? {} : { systemPath: deps.systemConfigPath }) };
}

/** The file -c names, or the first of the default places that exists. */
export function configFile(given: string | undefined, deps: CliDeps): FoundConfig {
  return findConfigFile(given, configSearch(deps));
}

export interface DaemonFlags {
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

/** `--discover` and its flags, shared by `run` and `check`. */
export function addDiscoverOptions(cmd: Command): Command {
  return cmd
    .option('--discover', 'also serve every container labelled PREFIX.listen (docs/discovery.md); without -c, no file is read')
    .option('--label-prefix <prefix>', 'with --discover: the labels\' prefix (default: the file\'s discovery.docker.labelPrefix, else portwake)')
    .option('--label-filter <label...>', 'with --discover: only containers with these labels, KEY or KEY=VALUE (e.g. com.docker.compose.project=shop)');
}

/**
 * The config `run` and `check` use: the file (-c, else the default places), with discovery as
 * --discover asks; `--discover` without -c reads no file. found: the file, undefined for none.
 */
export async function loadWithDiscovery(o: { config?: string } & DiscoverFlags, deps: CliDeps): Promise<{ config: PortwakeConfig; found: FoundConfig | undefined }> {
  const { withDiscoverFlags } = await import('../config/discovery.ts');
  const found = o.discover === true && o.config === undefined ? undefined : configFile(o.config, deps);
  let file: PortwakeConfig | undefined;
  if (found !== undefined) {
    const [{ loadConfig }, { environmentHasToken }] = await Promise.all([import('../config/load.ts'), import('../control/token.ts')]);
    file = await loadConfig(found.path, { tokenFromEnvironment: environmentHasToken(deps.env) });
  }
  return { config: withDiscoverFlags(file, o), found };
}

export function registerRun(program: Command, deps: CliDeps): void {
  addDiscoverOptions(addDaemonOptions(program.command('run').description('run the services of a config file (and, with --discover, of labelled containers)')))
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (_o: unknown, cmd: Command) => {
      const o = cmd.optsWithGlobals<GlobalOptions & DaemonFlags & DiscoverFlags & { config?: string }>();
      const { config, found } = await loadWithDiscovery(o, deps);
      await runDaemon(config, found, o, deps);
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
    .option('--token <token>', 'control API token (visible to other users in /proc: prefer --token-file or PORTWAKE_TOKEN)')
    .option('--token-file <file>', 'read the control API token from this file');
}

export function registerProxy(program: Command, deps: CliDeps): void {
  proxyCommand(program).action(async (_o: unknown, cmd: Command) => {
    const o = cmd.optsWithGlobals<GlobalOptions & DaemonFlags & ProxyFlags>();
    if (o.token !== undefined) deps.stderr.write(`warning: --token is visible to every user of this machine (ps, /proc/${process.pid}/cmdline); use --token-file FILE or PORTWAKE_TOKEN instead\n`);
    const [{ configFromFlags }, { environmentHasToken }] = await Promise.all([import('../config/flags.ts'), import('../control/token.ts')]);
    await runDaemon(configFromFlags(o, { tokenFromEnvironment: environmentHasToken(deps.env) }), undefined, o, deps);
  });
}

/** Parses `portwake proxy` flags given as words (for `generate systemd -- --listen …`). */
export async function proxyConfigFromArgs(args: readonly string[]): Promise<PortwakeConfig> {
  const { configFromFlags } = await import('../config/flags.ts');
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

/** Runs the daemon on a config from a file (configFile: which, and how it was chosen) or from flags (undefined). */
async function runDaemon(loaded: PortwakeConfig, configFile: FoundConfig | undefined, o: GlobalOptions & DaemonFlags, deps: CliDeps): Promise<void> {
  const [{ Daemon }, { startupCheck }] = await Promise.all([import('../daemon/daemon.ts'), import('./startup-check.ts')]);
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
    // Per provider (each engine, the command provider), each with its own services: one engine down is
    // one warning, the others are checked.
    const engines = createProviders(loaded, deps.env);
    const providers = createServiceProviders({ docker: (name) => engines.get(name), logger, env: deps.env });
    const groups = servicesByProvider(loaded.services, providers);
    const checks = [...groups].map(([provider, { engine, services }]) =>
      startupCheck(services, provider, engine !== undefined && engines.size > 1 ? logger.child({ engine }) : logger, checking.signal));
    // The check's replies (an inspect per service) grow the heap as loading the config did: given back after it.
    void Promise.all(checks).then(() => daemon.scheduleHeapRelease());
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
