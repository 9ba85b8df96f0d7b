// `portwake check`: validates the config and asks the engine about every container, starting
// nothing. Exit status 0 only when all is well. The work is in cli/check-command.ts, loaded when
// the command runs.

import type { Command } from 'commander';
import type { CliDeps } from './deps.ts';
import { CONFIG_HELP, configFile } from './run.ts';

export function registerCheck(program: Command, deps: CliDeps): void {
  program
    .command('check')
    .description('validate a config file and check that every container exists, without starting anything')
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (o: { config?: string }) => {
      const file = configFile(o.config, deps);
      const { checkCommand } = await import('./check-command.ts');
      await checkCommand(file, deps);
    });
}
