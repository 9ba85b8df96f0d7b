// `portwake check`: validates the config and asks the engine about every container, starting
// nothing. Exit status 0 only when all is well.

import type { Command } from 'commander';
import { loadConfig } from '../config/load.ts';
import { describe } from '../core/errors.ts';
import { DEFAULT_DOCKER_HOST, dockerTlsFromEnv } from '../providers/docker/docker-host.ts';
import { createDockerProvider } from '../providers/docker/provider.ts';
import { containerProblems } from './check-container.ts';
import type { CliDeps } from './deps.ts';
import { DEFAULT_CONFIG } from './run.ts';

export function registerCheck(program: Command, deps: CliDeps): void {
  program
    .command('check')
    .description('validate a config file and check that every container exists, without starting anything')
    .option('-c, --config <file>', 'config file', DEFAULT_CONFIG)
    .action(async (o: { config: string }) => {
      const config = await loadConfig(o.config);
      const out = deps.stdout;
      out.write(`${o.config}: valid, ${config.services.length} service(s)\n`);
      const provider = createDockerProvider({ host: config.engineHost ?? deps.env['DOCKER_HOST'] ?? DEFAULT_DOCKER_HOST, ...dockerTlsFromEnv(deps.env) });
      let bad = 0;
      try {
        await provider.ping();
      } catch (err) {
        out.write(`engine ${provider.endpoint}: ${describe(err)}\n`);
        process.exitCode = 1;
        return;
      }
      for (const s of config.services) {
        const problems = await containerProblems(provider, s);
        if (problems.length === 0) out.write(`service "${s.name}": ok (container "${s.container}")\n`);
        for (const p of problems) out.write(`service "${s.name}": ${p}\n`);
        if (problems.length > 0) bad++;
      }
      if (bad > 0) process.exitCode = 1;
    });
}
