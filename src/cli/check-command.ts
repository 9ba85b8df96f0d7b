// What `portwake check` does once argv is parsed: validate the config, ping the engine, ask it about
// every service's container, print one line each. Loaded by the command's action (cli/check.ts).

import type { FoundConfig } from '../config/find-file.ts';
import { loadConfig } from '../config/load.ts';
import { describe } from '../core/errors.ts';
import { createProvider } from '../daemon/wiring.ts';
import { containerProblems } from './check-container.ts';
import type { CliDeps } from './deps.ts';

/** Sets process.exitCode to 1 unless all is well. */
export async function checkCommand(file: FoundConfig, deps: CliDeps): Promise<void> {
  const { path } = file;
  const out = deps.stdout;
  out.write(`config: ${path} (${file.how})\n`);
  const config = await loadConfig(path);
  out.write(`${path}: valid, ${config.services.length} service(s)\n`);
  const provider = createProvider(config, deps.env);
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
}
