// argv → command: builds the commander program and registers every subcommand. No business logic.

import { Command, Option } from 'commander';
import { LOG_LEVELS } from '../log.ts';
import { registerCheck } from './check.ts';
import type { CliDeps } from './deps.ts';
import { register as registerGenerate } from './generate.ts';
import { proxyConfigFromArgs, registerProxy, registerRun, DEFAULT_CONFIG } from './run.ts';
import { register as registerStatus } from './status.ts';
import { register as registerWaitPort } from './wait-port.ts';
import { loadConfig } from '../config/load.ts';
import { DEFAULT_DOCKER_HOST, dockerTlsFromEnv } from '../providers/docker/docker-host.ts';
import { createDockerProvider } from '../providers/docker/provider.ts';

export const VERSION = '0.1.0';

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
  registerWaitPort(program, {
    logger: deps.makeLogger('warn'),
    provider: () => createDockerProvider({ host: deps.env['DOCKER_HOST'] ?? DEFAULT_DOCKER_HOST, ...dockerTlsFromEnv(deps.env) }),
  });
  registerStatus(program, { loadConfig, defaultConfigPath: DEFAULT_CONFIG, stdout: deps.stdout, env: deps.env, onSignal: (signal, fn) => deps.onSignal(signal, fn) });
  return program;
}
