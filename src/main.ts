#!/usr/bin/env node
// Entry: run the CLI, map an error to one log line and an exit code. The only process.exit.

import { realpathSync } from 'node:fs';
import { CommanderError } from 'commander';
import { buildProgram } from './cli/program.ts';
import { PortwakeError } from './core/errors.ts';
import { createLogger } from './log/log.ts';

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

async function main(argv: string[]): Promise<number> {
  const program = buildProgram({
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
    makeLogger: (level) => createLogger({ level }),
    onSignal: (signal, fn) => process.on(signal, fn),
    selfCommand: [process.execPath, ...process.execArgv, realpathSync(process.argv[1] ?? 'portwake')],
  });
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    if (err instanceof PortwakeError) {
      // A config error lists every problem as FILE:LINE:COL: …, one per line: printed as it is.
      process.stderr.write(err.code === 'CONFIG_INVALID' ? `${err.message}\n` : `portwake: ${err.message}\n`);
      return err.code === 'CONFIG_INVALID' || err.code === 'USAGE' ? EXIT_USAGE : EXIT_FAILURE;
    }
    if (err instanceof Error && typeof (err as { code?: unknown }).code === 'string') {
      // Errors of our own modules (e.g. the control client's CONTROL_*) carry a stable code and a full message.
      process.stderr.write(`portwake: ${err.message}\n`);
      return EXIT_FAILURE;
    }
    process.stderr.write(`portwake: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT_FAILURE;
  }
}

// A command whose pending work holds no ref'd handle would let Node exit 0 mid-way: that is a bug,
// and it must not look like success.
let settled = false;
process.once('beforeExit', () => {
  if (settled) return;
  process.stderr.write('portwake: internal error: the command ended with work still pending\n');
  process.exit(EXIT_FAILURE);
});

main(process.argv).finally(() => { settled = true; }).then(
  (code) => process.exit(code),
  () => process.exit(EXIT_FAILURE),
);
