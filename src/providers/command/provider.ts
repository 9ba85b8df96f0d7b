// The command provider: portwake as an inetd for any program. Each service is one "container"
// named after it, run as a process portwake owns (run:) or by an outside manager's commands
// (start:/stop:/status:). It satisfies the core's Provider contract:
// - inspect: a run: process is running while its process lives; a managed one while status: exits 0.
//   The "container"'s address is its upstream (networks: the upstream's IP, exposedPorts: its port),
//   so readiness probes the process itself; networkMode is "process". No HEALTHCHECK, ever.
// - start: spawns the run: process (true), or runs start: unless status: says it runs (false).
// - stop: SIGTERM to the run: process's group, SIGKILL after the grace; or runs stop: (bounded by
//   the grace). Not running is success.
// - events: start/die(exit code)/stop of what portwake itself did or saw exit; a managed service
//   stopped by someone else is not seen until the next inspect (a refused connection re-inspects).
// - ping: always answers (there is no engine to lose).

import { systemClock, type Clock } from '../../core/clock.ts';
import { ContainerNotFoundError, ProviderError, describe, formatMs } from '../../core/errors.ts';
import type { Logger } from '../../core/logger.ts';
import type { ContainerEvent, ContainerInfo, ContainerNetwork, Provider } from '../../core/provider.ts';
import { EventHub } from '../../core/event-hub.ts';
import { signalGroup, spawnGroup } from './child.ts';
import { OutputLines } from './output.ts';
import { runCommand } from './run-command.ts';
import { serviceEnv, showArgv, type CommandServiceSpec } from './spec.ts';

/** How long a status: command may take. */
export const STATUS_TIMEOUT_MS = 10_000;
/** How long a stop: command may take at least (its bound is the grace period, stopTimeout). */
export const MIN_STOP_COMMAND_MS = 1_000;

export interface CommandProviderOptions {
  logger: Logger;
  /** portwake's environment, which every process inherits (plus its service's PORTWAKE_* variables). */
  env: Readonly<Record<string, string | undefined>>;
  clock?: Clock;
}

interface Proc {
  pid: number;
  /** The argv it was started with: a reload that changes run: replaces it at the next start. */
  argv: readonly string[];
  exited: Promise<number>;
  /** Set once portwake asked it to stop: its exit then also reports 'stop'. */
  stopping: boolean;
}

interface Service {
  spec: CommandServiceSpec;
  id: string;
  /** run: the live process. */
  proc: Proc | undefined;
  /** A start in flight (single flight: a second caller joins it). */
  starting: Promise<boolean> | undefined;
  startedAt: number | undefined;
  exitCode: number | undefined;
}

export class CommandProvider implements Provider {
  readonly endpoint = 'command://';
  private readonly services = new Map<string, Service>();
  private readonly hub = new EventHub<ContainerEvent>();
  private readonly clock: Clock;

  constructor(private readonly o: CommandProviderOptions) {
    this.clock = o.clock ?? systemClock;
  }

  /**
   * Registers a service, or updates its spec (a reload): a process already running keeps running
   * with the command it was started with (its connections drain) until the next start, which
   * stops it (SIGTERM, then SIGKILL after stopTimeout) and runs the new command.
   */
  set(spec: CommandServiceSpec): void {
    const existing = this.services.get(spec.name);
    if (existing !== undefined) existing.spec = spec;
    else this.services.set(spec.name, { spec, id: `command-${spec.name}`, proc: undefined, starting: undefined, startedAt: undefined, exitCode: undefined });
  }

  async inspect(container: string, signal?: AbortSignal): Promise<ContainerInfo> {
    signal?.throwIfAborted();
    const s = this.find(container);
    const running = s.spec.command.kind === 'run'
      ? s.proc !== undefined
      : (await this.status(s, signal)) === 0;
    const { upstream } = s.spec;
    const networks: ContainerNetwork[] = [];
    if (running && upstream.kind === 'tcp' && /^\d+\.\d+\.\d+\.\d+$/.test(upstream.host)) networks.push({ name: 'upstream', ipAddress: upstream.host, globalIPv6Address: '' });
    if (running && upstream.kind === 'tcp' && upstream.host.includes(':')) networks.push({ name: 'upstream', ipAddress: '', globalIPv6Address: upstream.host });
    return {
      id: s.id,
      name: s.spec.name,
      status: running ? 'running' : s.startedAt === undefined ? 'created' : 'exited',
      running,
      health: 'none',
      exitCode: running ? undefined : s.exitCode,
      exposedPorts: upstream.kind === 'tcp' ? [upstream.port] : [],
      published: [],
      networks,
      networkMode: 'process',
      hasHealthcheck: false,
      startedAt: s.startedAt,
    };
  }

  async start(container: string, signal?: AbortSignal): Promise<boolean> {
    signal?.throwIfAborted();
    const s = this.find(container);
    // A second start while one is in flight waits for it, then finds it running (as an engine does).
    if (s.starting !== undefined) return await s.starting.then(() => false);
    const starting = s.spec.command.kind === 'run' ? this.spawn(s, s.spec.command.run) : this.startManaged(s, signal);
    s.starting = starting.finally(() => {
      s.starting = undefined;
    });
    s.starting.catch(() => undefined); // the caller sees the failure through `starting`
    return await starting;
  }

  async stop(container: string, graceSeconds: number, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const s = this.find(container);
    // A stop racing a start waits for the start's outcome, then stops what it started.
    await s.starting?.catch(() => undefined);
    if (s.spec.command.kind === 'run') await this.stopProcess(s, graceSeconds * 1000, signal);
    else await this.stopManaged(s, graceSeconds * 1000, signal);
  }

  events(signal: AbortSignal): AsyncIterable<ContainerEvent> {
    return this.hub.stream(signal);
  }

  async ping(signal?: AbortSignal): Promise<void> {
    await Promise.resolve();
    signal?.throwIfAborted();
  }

  /**
   * Stops every run: process (SIGTERM, then SIGKILL after its stopTimeout, or graceMs when given):
   * none outlives portwake. Services of start:/stop:/status: are left as they are.
   */
  async close(graceMs?: number): Promise<void> {
    await Promise.all([...this.services.values()].map(async (s) => {
      await s.starting?.catch(() => undefined);
      if (s.proc !== undefined) await this.stopProcess(s, graceMs ?? s.spec.stopTimeoutMs, undefined);
    }));
  }

  // ---- run: a process portwake owns ----

  private async spawn(s: Service, argv: readonly string[]): Promise<boolean> {
    if (s.proc !== undefined && sameArgv(s.proc.argv, argv)) return false;
    if (s.proc !== undefined) {
      this.o.logger.info({ service: s.spec.name, processPid: s.proc.pid }, `service "${s.spec.name}": run: changed since process ${s.proc.pid} started; stopping it to run ${showArgv(argv)}`);
      await this.stopProcess(s, s.spec.stopTimeoutMs, undefined);
    }
    const { name } = s.spec;
    let spawned;
    try {
      spawned = await spawnGroup(argv, this.env(s.spec));
    } catch (err) {
      throw new ProviderError(`cannot run ${showArgv(argv)}: ${describe(err)}; check run: (a program on PATH or an absolute path)`, { cause: err });
    }
    const proc: Proc = { pid: spawned.pid, argv, exited: spawned.exited, stopping: false };
    const output = new OutputLines(this.o.logger, name, 'info', { service: name, processPid: proc.pid });
    output.follow(spawned.child.stdout, 'stdout');
    output.follow(spawned.child.stderr, 'stderr');
    s.proc = proc;
    s.startedAt = Date.now();
    s.exitCode = undefined;
    this.emit('start', s);
    void proc.exited.then((code) => {
      // What the process left behind in its group goes with it.
      signalGroup(proc.pid, 'SIGKILL');
      if (s.proc === proc) s.proc = undefined;
      s.exitCode = code;
      this.o.logger.info({ service: name, processPid: proc.pid, exitCode: code },
        `service "${name}": process ${proc.pid} ${showArgv(argv)} exited with code ${code}${proc.stopping ? ' (stopped by portwake)' : ''}`);
      this.emit('die', s, code);
      if (proc.stopping) this.emit('stop', s);
    });
    return true;
  }

  private async stopProcess(s: Service, graceMs: number, signal: AbortSignal | undefined): Promise<void> {
    const proc = s.proc;
    if (proc === undefined) return;
    if (!proc.stopping) {
      proc.stopping = true;
      signalGroup(proc.pid, 'SIGTERM');
      // Goes on when the caller gives up waiting, as an engine's stop does.
      const kill = this.clock.setTimer(graceMs, () => {
        this.o.logger.info({ service: s.spec.name, processPid: proc.pid }, `service "${s.spec.name}": process ${proc.pid} still running ${formatMs(graceMs)} after SIGTERM (stopTimeout); sending SIGKILL`);
        signalGroup(proc.pid, 'SIGKILL');
      });
      void proc.exited.then(() => kill.cancel());
    }
    await untilAborted(proc.exited, signal);
  }

  // ---- start:/stop:/status: an outside manager ----

  private async startManaged(s: Service, signal: AbortSignal | undefined): Promise<boolean> {
    const command = s.spec.command;
    if (command.kind !== 'manage') throw new Error('unreachable');
    if ((await this.status(s, signal)) === 0) return false;
    // Bounded by the caller's deadline (startTimeout): a hang is killed and reported.
    await this.expectZero(s, 'start', command.start, 2 ** 31 - 1, signal);
    s.startedAt = Date.now();
    s.exitCode = undefined;
    this.emit('start', s);
    return true;
  }

  private async stopManaged(s: Service, graceMs: number, signal: AbortSignal | undefined): Promise<void> {
    const command = s.spec.command;
    if (command.kind !== 'manage') throw new Error('unreachable');
    if ((await this.status(s, signal)) !== 0) return;
    await this.expectZero(s, 'stop', command.stop, Math.max(graceMs, MIN_STOP_COMMAND_MS), signal);
    s.exitCode = 0;
    this.emit('die', s, 0);
    this.emit('stop', s);
  }

  private async status(s: Service, signal: AbortSignal | undefined): Promise<number> {
    const command = s.spec.command;
    if (command.kind !== 'manage') throw new Error('unreachable');
    const output = new OutputLines(this.o.logger, s.spec.name, 'debug', { service: s.spec.name, command: 'status' });
    return runCommand(command.status, { what: 'status', endpoint: this.endpoint, env: this.env(s.spec), clock: this.clock, timeoutMs: STATUS_TIMEOUT_MS, signal, output });
  }

  private async expectZero(s: Service, what: 'start' | 'stop', argv: readonly string[], timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
    const output = new OutputLines(this.o.logger, s.spec.name, 'info', { service: s.spec.name, command: what });
    const code = await runCommand(argv, { what, endpoint: this.endpoint, env: this.env(s.spec), clock: this.clock, timeoutMs, signal, output });
    if (code === 0) return;
    const last = output.lastLine();
    throw new ProviderError(`${what} command ${showArgv(argv)} exited with code ${code}${last === '' ? '' : ` (last output: ${last})`}`);
  }

  // ---- ----

  private env(spec: CommandServiceSpec): NodeJS.ProcessEnv {
    return { ...this.o.env, ...serviceEnv(spec) };
  }

  private find(ref: string): Service {
    const s = this.services.get(ref) ?? [...this.services.values()].find((x) => x.id === ref);
    if (s === undefined) throw new ContainerNotFoundError(ref);
    return s;
  }

  private emit(kind: ContainerEvent['kind'], s: Service, exitCode?: number): void {
    const e: ContainerEvent = { kind, id: s.id, name: s.spec.name, time: Date.now() };
    if (exitCode !== undefined) e.exitCode = exitCode;
    this.hub.emit(e);
  }
}

function sameArgv(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Waits for p; rejects with the signal's reason if it aborts first. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  signal.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      reject,
    );
  });
}

CommandProvider satisfies new (o: CommandProviderOptions) => Provider;
