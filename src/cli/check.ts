// `portwake check`: validates the config and asks the engine about every container, starting
// nothing; with --discover, also lists what discovery would serve and every problem with the
// labelled containers. Exit status 0 only when all is well. The config loader and the container
// checks are loaded when the command runs.

import type { Command } from 'commander';
import type { DiscoverFlags } from '../config/discovery.ts';
import type { PortwakeConfig, ServiceConfig } from '../config/types.ts';
import { basename } from 'node:path';
import { systemClock } from '../core/clock.ts';
import { describe } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import type { Provider } from '../core/provider.ts';
import { createLabelSource, createProvider } from '../daemon/wiring.ts';
import type { CliDeps } from './deps.ts';
import { addDiscoverOptions, CONFIG_HELP, loadWithDiscovery } from './run.ts';

export function registerCheck(program: Command, deps: CliDeps): void {
  addDiscoverOptions(program
    .command('check')
    .description('validate a config file and check that every container exists, without starting anything'))
    .option('-c, --config <file>', CONFIG_HELP)
    .action(async (o: { config?: string } & DiscoverFlags) => {
      await checkCommand(o, deps);
    });
}

/** Validates the config, pings the engine, prints one line per service. Sets process.exitCode to 1 unless all is well. */
async function checkCommand(o: { config?: string } & DiscoverFlags, deps: CliDeps): Promise<void> {
  const out = deps.stdout;
  const { config, found } = await loadWithDiscovery(o, deps);
  if (found !== undefined) {
    out.write(`config: ${found.path} (${found.how})\n`);
    out.write(`${found.path}: valid, ${config.services.length} service(s)\n`);
  }
  const provider = createProvider(config, deps.env);
  try {
    await provider.ping();
  } catch (err) {
    out.write(`engine ${provider.endpoint}: ${describe(err)}\n`);
    process.exitCode = 1;
    return;
  }
  let bad = await checkServices(provider, config.services, out, (s) => `service "${s.name}"`);
  if (config.discovery !== undefined) bad += await checkDiscovery(config, found?.path, provider, deps);
  if (bad > 0) process.exitCode = 1;
}

/** One line per service: ok, or each problem with its container. Returns how many have problems. */
async function checkServices(provider: Provider, services: readonly ServiceConfig[], out: NodeJS.WritableStream, what: (s: ServiceConfig) => string): Promise<number> {
  const { containerProblems } = await import('./check-container.ts');
  let bad = 0;
  for (const s of services) {
    const problems = await containerProblems(provider, s);
    if (problems.length === 0) out.write(`${what(s)}: ok (container "${s.container}")\n`);
    for (const p of problems) out.write(`${what(s)}: ${p}\n`);
    if (problems.length > 0) bad++;
  }
  return bad;
}

/** What discovery would serve, and every label problem and clash. Returns how many problems. */
async function checkDiscovery(config: PortwakeConfig, file: string | undefined, provider: Provider, deps: CliDeps): Promise<number> {
  const [{ Discovery }, { mergeDiscovered }, { formatLabelProblem }] = await Promise.all([
    import('../daemon/discovery/discovery.ts'), import('../daemon/discovery/merge.ts'), import('../config/labels.ts'),
  ]);
  const out = deps.stdout;
  const d = config.discovery?.docker;
  if (d === undefined) return 0;
  const source = createLabelSource(config, deps.env);
  const discovery = new Discovery({
    source, labelPrefix: d.labelPrefix, clock: systemClock, logger: silentLogger,
    signal: new AbortController().signal, onChange: () => undefined,
  });
  const query = [`${d.labelPrefix}.listen`, ...d.filter].join(', ');
  let found;
  try {
    found = await discovery.find();
  } catch (err) {
    out.write(`discovery: listing containers labelled ${query}: ${describe(err)}\n`);
    return 1;
  }
  const merged = mergeDiscovered(config, found.candidates, file === undefined ? 'the command line' : basename(file));
  out.write(`discovery: ${found.candidates.length + new Set(found.problems.map((p) => p.container)).size} container(s) labelled ${query}, ${merged.served.length} served\n`);
  const bad = await checkServices(provider, merged.served.map((c) => c.service), out,
    (s) => `service "${s.name}" (labels of container "${s.container}", on ${s.listen.map((l) => l.text).join(', ')})`);
  for (const p of [...found.problems, ...merged.clashes]) out.write(`discovery: ${formatLabelProblem(p)}\n`);
  return bad + found.problems.length + merged.clashes.length;
}
