// `portwake check`: validates the config and asks the engine about every container, starting
// nothing. Exit status 0 only when all is well. The config loader and the container checks are
// loaded when the command runs.

import type { Command } from 'commander';
import type { FoundConfig } from '../config/find-file.ts';
import { describe } from '../core/errors.ts';
import { DEFAULT_ENGINE } from '../config/engines.ts';
import { createProviders } from '../daemon/wiring.ts';
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
  const [{ loadConfig }, { containerProblems }, { environmentHasToken }] = await Promise.all([import('../config/load.ts'), import('./check-container.ts'), import('../control/token.ts')]);
  const { path } = file;
  const out = deps.stdout;
  out.write(`config: ${path} (${file.how})\n`);
  const config = await loadConfig(path, { tokenFromEnvironment: environmentHasToken(deps.env) });
  out.write(`${path}: valid, ${config.services.length} service(s)\n`);
  const providers = createProviders(config, deps.env);
  let bad = 0;
  // Per engine: one that does not answer is reported once, and its services are not inspected.
  for (const [engine, provider] of providers) {
    const services = config.services.filter((s) => (s.engine ?? DEFAULT_ENGINE) === engine);
    if (services.length === 0 && engine !== DEFAULT_ENGINE) continue;
    const named = providers.size > 1 ? `engine "${engine}" (${provider.endpoint})` : `engine ${provider.endpoint}`;
    try {
      await provider.ping();
    } catch (err) {
      out.write(`${named}: ${describe(err)}\n`);
      bad++;
      continue;
    }
    for (const s of services) {
      const problems = await containerProblems(provider, s);
      const where = providers.size > 1 ? ` on engine "${engine}"` : '';
      if (problems.length === 0) out.write(`service "${s.name}": ok (container "${s.container}"${where})\n`);
      for (const p of problems) out.write(`service "${s.name}": ${p}\n`);
      if (problems.length > 0) bad++;
    }
  }
  if (bad > 0) process.exitCode = 1;
}
