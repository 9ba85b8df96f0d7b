// argv → command: builds the commander program and registers every subcommand. No business logic.
// Every option is defined here up front (help and usage errors need them all); what a command does
// — the config loader, the daemon, the control client, the probes — is loaded when it runs, so that
// `portwake run` holds only what running needs.

import { Command, Option } from 'commander';
import { searchConfigFile } from '../config/find-file.ts';
import type { PortwakeConfig } from '../config/types.ts';
import type { Logger } from '../core/logger.ts';
import { LOG_LEVELS } from '../log/log.ts';
import { createProvider } from '../daemon/wiring.ts';
import { registerCheck } from './check.ts';
import type { CliDeps } from './deps.ts';
import { register as registerGenerate } from './generate.ts';
import { configSearch, proxyConfigFromArgs, registerProxy, registerRun } from './run.ts';
import { register as registerStatus } from './status.ts';
import { register as registerWaitPort } from './wait-port.ts';

export const VERSION = '0.1.0';

async function loadConfig(path: string): Promise<PortwakeConfig> {
  const { loadConfig: load } = await import('../config/load.ts');
  return load(path);
}

export function buildProgram(deps: CliDeps): Command {
  const program = new Command('portwake')
    .description('On-demand activation for containers: own the port, start the container on the first connection, forward when truly ready, stop when idle.')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => deps.stdout.write(s), writeErr: (s) => deps.stderr.write(s) })
    .exitOverride();
  registerRun(program, deps);
  registerProxy(program, deps);
  registerCheck(program, deps);
  registerGenerate(program, {
    stdout: deps.stdout,
    env: deps.env,
    loadConfig,
    proxyConfig: proxyConfigFromArgs,
    portwakeCommand: deps.selfCommand,
  });
  let waitPortLogger: Logger | undefined;
  registerWaitPort(program, {
    // Made when wait-port runs, not for every command.
    get logger() {
      return (waitPortLogger ??= deps.makeLogger('warn'));
    },
    provider: () => createProvider({}, deps.env),
  });
  registerStatus(program, {
    loadConfig,
    // The file `run` would read, looked for only when neither --control nor -c is given.
    get defaultConfigPath() {
      return searchConfigFile(configSearch(deps))?.path;
    },
    stdout: deps.stdout,
    stderr: deps.stderr,
    env: deps.env,
    onSignal: (signal, fn) => deps.onSignal(signal, fn),
  });
  return program;
}
