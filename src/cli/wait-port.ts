// `portwake wait-port`: argv → the wait-port loop (cli/wait-port-command.ts, loaded when the command
// runs). Exits 0 once ready; a timeout rejects with a PortwakeError (READY_TIMEOUT) that main.ts
// turns into one line and a non-zero exit code.

import type { Command } from 'commander';
import type { Clock } from '../core/clock.ts';
import type { Logger } from '../core/logger.ts';
import type { Provider } from '../core/provider.ts';
import type { Probes } from '../core/readiness.ts';

export interface WaitPortDeps {
  logger: Logger;
  /** The container engine; called only for --container. */
  provider(): Provider;
  /** Ends the wait early (SIGTERM); default: never. */
  signal?: AbortSignal;
  /** Injected for tests. */
  clock?: Clock;
  probes?: Probes;
}

export interface WaitPortOptions {
  timeout: string;
  container?: string;
  port?: string;
  http?: string;
}

export const DEFAULT_WAIT_TIMEOUT = '60s';

/** Adds `wait-port [target]` to the program. */
export function register(program: Command, deps: WaitPortDeps): void {
  program
    .command('wait-port')
    .description('wait until a port really answers (e.g. as ExecStartPost= of a container unit); exit 0 once ready, non-zero on timeout')
    .argument('[target]', 'HOST:PORT, [IPv6]:PORT, PORT (on 127.0.0.1) or a Unix socket path')
    .option('--timeout <duration>', 'give up after this long', DEFAULT_WAIT_TIMEOUT)
    .option('--container <name>', "probe this container's own address instead of a fixed one (not fooled by a published port)")
    .option('--port <port>', 'with --container: the port inside the container (default: its only exposed port)')
    .option('--http <path>', 'require an HTTP answer (status 200-399) to GET path, not just a connection')
    .action(async (target: string | undefined, opts: WaitPortOptions) => {
      const { waitPortCommand } = await import('./wait-port-command.ts');
      await waitPortCommand(target, opts, deps);
    });
}
