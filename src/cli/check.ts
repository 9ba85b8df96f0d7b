// `portwake check`: validates the config and asks the engine about every container, starting
// nothing. Exit status 0 only when all is well. The config loader and the container checks are
// loaded when the command runs.

import type { Command } from 'commander';
import type { FoundConfig } from '../config/find-file.ts';
import { describe } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { createProvider, createServiceProviders } from '../daemon/wiring.ts';
import { showArgv } from '../providers/command/spec.ts';
import type { CliDeps } from './deps.ts';
import { CONFIG_HELP, configFile } from './run.ts';

export function registerCheck(program: Command, deps: CliDeps): void {
  program
    .command('check')
    .description('validate a config file and check that every container exists, without starting anything')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (o: { config?: string }) => {
      await checkCommand(configFile(o.config, deps), deps);
    });
}

/** Validates the config, pings the engine, prints one line per service. Sets process.exitCode to 1 unless all is well. */
async function checkCommand(file: FoundConfig, deps: CliDeps): Promise<void> {
  const [{ loadConfig }, { containerReport }, { environmentHasToken }] = await Promise.all([import('../config/load.ts'), import('./check-container.ts'), import('../control/token.ts')]);
  const { path } = file;
  const out = deps.stdout;
  out.write(`config: ${path} (${file.how})\n`);
  const config = await loadConfig(path, { tokenFromEnvironment: environmentHasToken(deps.env) });
  out.write(`${path}: valid, ${config.services.length} service(s)\n`);
  const providers = createServiceProviders({ docker: () => createProvider(config, deps.env), logger: silentLogger, env: deps.env });
  let bad = 0;
  const engines = new Set(config.services.map((s) => providers.providerFor(s)));
  for (const provider of engines) {
    try {
      await provider.ping();
    } catch (err) {
      out.write(`engine ${provider.endpoint}: ${describe(err)}\n`);
      process.exitCode = 1;
      return;
    }
  }
  for (const s of config.services) {
    const { problems, warnings, manage } = await containerReport(providers.providerFor(s), s, undefined, deps.env);
    if (problems.length === 0) out.write(`service "${s.name}": ok (${s.command !== undefined ? `command: ${s.command.kind === 'run' ? 'run' : 'start/stop/status'} ${showArgv(s.command.kind === 'run' ? s.command.run : s.command.start)}` : s.members === undefined ? `container "${s.container}"` : `containers "${[s.container, ...s.members].join('", "')}"`})\n`);
    for (const p of problems) out.write(`service "${s.name}": ${p}\n`);
    // Warnings do not fail the check: the service works, and the idle stop may not last.
    for (const w of warnings) out.write(`service "${s.name}": warning: ${w}\n`);
    for (const i of manage) out.write(`service "${s.name}": container "${i.name}" has restart policy "${i.restartPolicy ?? ''}"; "portwake run" sets it to "no" (restartPolicy: manage)\n`);
    if (problems.length > 0) bad++;
  }
  if (bad > 0) process.exitCode = 1;
}
