// `portwake check`: validates the config and asks the engine about every container, starting
// nothing; with --discover, also lists what discovery would serve and every problem with the
// labelled containers. Exit status 0 only when all is well. The config loader and the container
// checks are loaded when the command runs.

import type { Command } from 'commander';
import type { DiscoverFlags } from '../config/discovery.ts';
import { DEFAULT_ENGINE } from '../config/engines.ts';
import type { PortwakeConfig, ServiceConfig } from '../config/types.ts';
import { basename } from 'node:path';
import { systemClock } from '../core/clock.ts';
import { describe } from '../core/errors.ts';
import { silentLogger } from '../core/logger.ts';
import type { Provider } from '../core/provider.ts';
import { createLabelSources, createProviders, createServiceProviders, servicesByProvider, type ServiceProviders } from '../daemon/wiring.ts';
import { showArgv } from '../providers/command/spec.ts';
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
  const checker = new ServiceChecker(config, deps);
  let bad = await checker.check(config.services, (s) => `service "${s.name}"`);
  if (config.discovery !== undefined) bad += await checkDiscovery(config, found?.path, checker, deps);
  if (bad > 0) process.exitCode = 1;
}

/** Asks each service's provider about it: one line per service, and one per engine that does not answer (asked once). */
class ServiceChecker {
  readonly engines: Map<string, Provider>;
  readonly providers: ServiceProviders;
  /** Each provider's ping: an error message, or undefined when it answered. */
  readonly #pinged = new Map<Provider, Promise<string | undefined>>();

  constructor(config: PortwakeConfig, private readonly deps: CliDeps) {
    this.engines = createProviders(config, deps.env);
    this.providers = createServiceProviders({ docker: (name) => this.engines.get(name), logger: silentLogger, env: deps.env });
  }

  /** Returns how many services have problems, and engines that do not answer. */
  async check(services: readonly ServiceConfig[], what: (s: ServiceConfig) => string): Promise<number> {
    const { containerReport } = await import('./check-container.ts');
    const out = this.deps.stdout;
    const several = this.engines.size > 1;
    let bad = 0;
    // Per provider: an engine that does not answer is reported once, and its services are not inspected.
    for (const [provider, { engine, services: mine }] of servicesByProvider(services, this.providers)) {
      const first = !this.#pinged.has(provider);
      const failed = await this.#ping(provider);
      if (failed !== undefined) {
        if (first) {
          out.write(`${engine !== undefined && several ? `engine "${engine}" (${provider.endpoint})` : `engine ${provider.endpoint}`}: ${failed}\n`);
          bad++;
        }
        continue;
      }
      const where = engine !== undefined && several ? ` on engine "${engine}"` : '';
      for (const s of mine) {
        const { problems, warnings, manage } = await containerReport(provider, s, undefined, this.deps.env);
        if (problems.length === 0) out.write(`${what(s)}: ok (${runs(s)}${where})\n`);
        for (const p of problems) out.write(`${what(s)}: ${p}\n`);
        // Warnings do not fail the check: the service works, and the idle stop may not last.
        for (const w of warnings) out.write(`${what(s)}: warning: ${w}\n`);
        for (const i of manage) out.write(`${what(s)}: container "${i.name}" has restart policy "${i.restartPolicy ?? ''}"; "portwake run" sets it to "no" (restartPolicy: manage)\n`);
        if (problems.length > 0) bad++;
      }
    }
    return bad;
  }

  #ping(provider: Provider): Promise<string | undefined> {
    let p = this.#pinged.get(provider);
    if (p === undefined) {
      p = provider.ping().then(() => undefined, (err: unknown) => describe(err));
      this.#pinged.set(provider, p);
    }
    return p;
  }
}

/** What a service runs, for its "ok" line. */
function runs(s: ServiceConfig): string {
  if (s.command !== undefined) return `command: ${s.command.kind === 'run' ? 'run' : 'start/stop/status'} ${showArgv(s.command.kind === 'run' ? s.command.run : s.command.start)}`;
  return s.members === undefined ? `container "${s.container}"` : `containers "${[s.container, ...s.members].join('", "')}"`;
}

/** What discovery would serve on every engine, and every label problem and clash. Returns how many problems. */
async function checkDiscovery(config: PortwakeConfig, file: string | undefined, checker: ServiceChecker, deps: CliDeps): Promise<number> {
  const [{ Discovery }, { mergeDiscovered }, { formatLabelProblem }] = await Promise.all([
    import('../daemon/discovery/discovery.ts'), import('../daemon/discovery/merge.ts'), import('../config/labels.ts'),
  ]);
  const out = deps.stdout;
  const d = config.discovery?.docker;
  if (d === undefined) return 0;
  const query = [`${d.labelPrefix}.*`, ...d.filter].join(', ');
  let bad = 0;
  const candidates = [];
  const problems = [];
  let containers = 0;
  for (const [engine, source] of createLabelSources(config, deps.env)) {
    const discovery = new Discovery({
      source, labelPrefix: d.labelPrefix, routers: { http: config.http !== undefined, tls: config.tls !== undefined }, clock: systemClock, logger: silentLogger,
      ...(engine === DEFAULT_ENGINE ? {} : { engine }),
      signal: new AbortController().signal, onChange: () => undefined,
    });
    const on = checker.engines.size > 1 ? ` on engine "${engine}"` : '';
    try {
      const found = await discovery.find();
      candidates.push(...found.candidates);
      problems.push(...found.problems);
      containers += found.candidates.length + new Set(found.problems.map((p) => p.container)).size;
    } catch (err) {
      out.write(`discovery: listing containers labelled ${query}${on}: ${describe(err)}\n`);
      bad++;
    }
  }
  const merged = mergeDiscovered(config, candidates, file === undefined ? 'the command line' : basename(file));
  out.write(`discovery: ${containers} container(s) labelled ${query}, ${merged.served.length} served\n`);
  bad += await checker.check(merged.served.map((c) => c.service),
    (s) => `service "${s.name}" (labels of container "${s.container}", ${s.listen.length === 0 ? 'no listener: a dependency' : `on ${s.listen.map((l) => l.text).join(', ')}`})`);
  for (const p of [...problems, ...merged.clashes]) out.write(`discovery: ${formatLabelProblem(p)}\n`);
  return bad + problems.length + merged.clashes.length;
}
