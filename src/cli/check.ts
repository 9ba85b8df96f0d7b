// `portwake check`: validates the config and asks the engine about every container, starting
// nothing. Exit status 0 only when all is well. The config loader and the container checks are
// loaded when the command runs.

import type { Command } from 'commander';
import type { FoundConfig } from '../config/find-file.ts';
import type { ServiceConfig } from '../config/types.ts';
import { describe } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import { createProviders, createServiceProviders, servicesByProvider } from '../daemon/wiring.ts';
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
  const engines = createProviders(config, deps.env);
  const providers = createServiceProviders({ docker: (name) => engines.get(name), logger: silentLogger, env: deps.env });
  // Services per provider (each engine; the command provider), in config order.
  const groups = servicesByProvider(config.services, providers);
  let bad = 0;
  // Per provider: an engine that does not answer is reported once, and its services are not inspected.
  for (const [provider, { engine, services }] of groups) {
    const named = engine !== undefined && engines.size > 1 ? `engine "${engine}" (${provider.endpoint})` : `engine ${provider.endpoint}`;
    try {
      await provider.ping();
    } catch (err) {
      out.write(`${named}: ${describe(err)}\n`);
      bad++;
      continue;
    }
    const where = engine !== undefined && engines.size > 1 ? ` on engine "${engine}"` : '';
    for (const s of services) {
      const { problems, warnings, manage } = await containerReport(provider, s, undefined, deps.env);
      if (problems.length === 0) out.write(`service "${s.name}": ok (${what(s)}${where})\n`);
      for (const p of problems) out.write(`service "${s.name}": ${p}\n`);
      // Warnings do not fail the check: the service works, and the idle stop may not last.
      for (const w of warnings) out.write(`service "${s.name}": warning: ${w}\n`);
      for (const i of manage) out.write(`service "${s.name}": container "${i.name}" has restart policy "${i.restartPolicy ?? ''}"; "portwake run" sets it to "no" (restartPolicy: manage)\n`);
      if (problems.length > 0) bad++;
    }
  }
  if (bad > 0) process.exitCode = 1;
}

/** What a service runs, for its "ok" line. */
function what(s: ServiceConfig): string {
  if (s.command !== undefined) return `command: ${s.command.kind === 'run' ? 'run' : 'start/stop/status'} ${showArgv(s.command.kind === 'run' ? s.command.run : s.command.start)}`;
  return s.members === undefined ? `container "${s.container}"` : `containers "${[s.container, ...s.members].join('", "')}"`;
}
