// `portwake generate systemd`: argv → unit files, written to a directory or printed. The units come
// from systemd/units.ts (style portwake) and systemd/recipe-units.ts (style recipe).

import { accessSync, constants } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { parseDuration } from '../config/duration.ts';
import type { PortwakeConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';
import { engineAddress } from '../daemon/wiring.ts';
import { DEFAULT_DOCKER_HOST } from '../providers/docker/docker-host.ts';
import { engineEnvironment } from '../systemd/engine-environment.ts';
import { DEFAULT_PROXYD, generateRecipeUnits } from '../systemd/recipe-units.ts';
import type { UnitFile } from '../systemd/unit-file.ts';
import { DEFAULT_WATCHDOG_MS, generatePortwakeUnits } from '../systemd/units.ts';

export interface GenerateDeps {
  stdout: { write(chunk: string): unknown };
  env: Readonly<Record<string, string | undefined>>;
  /** Reads and validates a config file. */
  loadConfig(path: string): Promise<PortwakeConfig> | PortwakeConfig;
  /** Builds the config from `portwake proxy` flags (the words after "--"). */
  proxyConfig(args: readonly string[]): Promise<PortwakeConfig> | PortwakeConfig;
  /** How this portwake is run, absolute path first (e.g. the installed bin), for ExecStart=. */
  portwakeCommand: readonly string[];
  /** Whether an absolute path is an executable file; default: access(X_OK). */
  isExecutable?: (path: string) => boolean;
}

export interface GenerateOptions {
  config?: string;
  style: 'portwake' | 'recipe';
  name: string;
  output?: string;
  exec?: string;
  exitIdleTime?: string;
  watchdog?: string;
  user?: string;
  group: string[];
  docker?: string;
  proxyd?: string;
}

/** Adds `generate systemd` (under a `generate` command shared with other generators). */
export function register(program: Command, deps: GenerateDeps): void {
  const generate =
    program.commands.find((c) => c.name() === 'generate') ??
    program.command('generate').description('write files that run portwake elsewhere');
  generate
    .command('systemd')
    .description('write systemd units: a .socket per service and a Type=notify .service running portwake (or, with --style recipe, socket + systemd-socket-proxyd + container units)')
    .argument('[proxy-flags...]', 'after "--": the flags of `portwake proxy` instead of --config')
    .option('-c, --config <file>', 'the config file the service will run')
    .addOption(new Option('--style <style>', 'portwake: portwake owns the sockets; recipe: the classic three units per service').choices(['portwake', 'recipe']).default('portwake'))
    .option('--name <name>', 'unit name prefix (style portwake)', 'portwake')
    .option('-o, --output <dir>', 'write the files into this directory (default: print them)')
    .option('--exec <path>', 'absolute path of the portwake executable for ExecStart= (default: this one)')
    .option('--exit-idle-time <duration>', 'let portwake exit when every service has been idle this long; the socket starts it again')
    .option('--watchdog <duration>', `WatchdogSec= (0s: none; default ${DEFAULT_WATCHDOG_MS / 1000}s)`)
    .option('--user <user>', 'User= (default root, which can use the Docker socket)')
    .option('--group <group>', 'SupplementaryGroups=, repeatable (e.g. docker, with --user)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--docker <path>', 'docker CLI for --style recipe (default: from PATH)')
    .option('--proxyd <path>', `systemd-socket-proxyd for --style recipe (default: ${DEFAULT_PROXYD} or /usr/lib/…)`)
    .action(async (proxyFlags: string[], opts: GenerateOptions) => {
      await generateCommand(proxyFlags, opts, deps);
    });
}

async function generateCommand(proxyFlags: string[], opts: GenerateOptions, deps: GenerateDeps): Promise<void> {
  const isExecutable = deps.isExecutable ?? defaultIsExecutable;
  if (opts.config !== undefined && proxyFlags.length > 0) throw usage('give either --config FILE or the proxy flags after "--", not both');
  if (opts.config === undefined && proxyFlags.length === 0) {
    throw usage('give --config FILE, or the flags of `portwake proxy` after "--" (e.g. -- --listen 80 --container web)');
  }
  const config = opts.config === undefined ? await deps.proxyConfig(proxyFlags) : await deps.loadConfig(opts.config);
  const runArgs = opts.config === undefined ? ['proxy', ...proxyFlags] : ['run', '--config', resolve(opts.config)];
  const portwake = opts.exec === undefined ? [...deps.portwakeCommand] : [opts.exec];
  if (!isAbsolute(portwake[0] ?? '')) throw usage(`--exec: expected an absolute path, got "${portwake[0] ?? ''}"`);
  if (opts.exec === undefined && runsFromSource(portwake)) {
    throw usage(
      `this portwake runs from its source tree (${portwake.join(' ')}), which a unit cannot run: tsx is found from the working directory, ` +
        'and the clone may move. Install portwake (in the clone: npm pack, then npm install -g ./portwake-VERSION.tgz) and run the installed ' +
        '`portwake generate systemd`, or pass --exec /absolute/path/to/portwake',
    );
  }
  // Under systemd the unit gets none of this shell's environment: the engine it was pointed at goes into the unit.

  let files: UnitFile[];
  if (opts.style === 'recipe') {
    files = generateRecipeUnits(config, {
      portwake,
      docker: opts.docker ?? findInPath('docker', deps.env, isExecutable) ?? '/usr/bin/docker',
      proxyd: opts.proxyd ?? [DEFAULT_PROXYD, '/usr/lib/systemd/systemd-socket-proxyd'].find((p) => isExecutable(p)) ?? DEFAULT_PROXYD,
      // docker and wait-port read no config file: they need the config's engine too.
      environment: engineEnvironment(engineAddress(config.engineHost, deps.env), deps.env, DEFAULT_DOCKER_HOST),
    });
  } else {
    files = generatePortwakeUnits(config, {
      name: opts.name,
      portwake,
      args: runArgs,
      exitIdleMs: opts.exitIdleTime === undefined ? undefined : duration('--exit-idle-time', opts.exitIdleTime, false),
      watchdogMs: opts.watchdog === undefined ? DEFAULT_WATCHDOG_MS : duration('--watchdog', opts.watchdog, true),
      user: opts.user,
      groups: opts.group,
      // portwake reads the config's own engine: (or --engine) itself.
      environment: engineEnvironment(config.engineHost === undefined ? engineAddress(undefined, deps.env) : undefined, deps.env, DEFAULT_DOCKER_HOST),
    });
  }

  if (opts.output === undefined) {
    deps.stdout.write(files.map((f) => `### ${f.name}\n${f.text}`).join('\n'));
    return;
  }
  await mkdir(opts.output, { recursive: true });
  for (const f of files) {
    const path = join(opts.output, f.name);
    await writeFile(path, f.text, { mode: 0o644 });
    deps.stdout.write(`wrote ${path}\n`);
  }
  const sockets = files.filter((f) => f.name.endsWith('.socket')).map((f) => f.name);
  deps.stdout.write(`next: systemctl daemon-reload && systemctl enable --now ${sockets.join(' ')}\n`);
}

/** Whether the command runs portwake's TypeScript sources (node --import tsx …/src/main.ts, npm run portwake's launcher) rather than a build. */
function runsFromSource(command: readonly string[]): boolean {
  return command.some((arg) => /\.[cm]?ts$/.test(arg) || /portwake-from-source\.mjs$/.test(arg) || arg === 'tsx' || /[/\\]tsx[/\\]/.test(arg) || /^--(import|loader|require)=tsx\b/.test(arg));
}

function duration(flag: string, text: string, zero: boolean): number {
  const parsed = parseDuration(text, { zero });
  if (!parsed.ok) throw usage(`${flag}: ${parsed.message}`);
  return parsed.value;
}

function findInPath(name: string, env: GenerateDeps['env'], isExecutable: (path: string) => boolean): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '' || !isAbsolute(dir)) continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function defaultIsExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function usage(message: string): PortwakeError {
  return new PortwakeError('USAGE', `generate systemd: ${message}`);
}
