// `portwake generate systemd`: argv → unit files, written to a directory or printed. This file
// defines the command; cli/generate-command.ts, loaded when it runs, writes the units, which come
// from systemd/units.ts (style portwake) and systemd/recipe-units.ts (style recipe).

import { Option, type Command } from 'commander';
import type { PortwakeConfig } from '../config/types.ts';
import { DEFAULT_PROXYD } from '../systemd/recipe-units.ts';
import { DEFAULT_WATCHDOG_MS } from '../systemd/units.ts';

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
      const { generateCommand } = await import('./generate-command.ts');
      await generateCommand(proxyFlags, opts, deps);
    });
}
