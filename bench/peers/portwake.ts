// portwake as the bench runs it: the BUILT daemon (node dist/main.js) as a child process, ready
// once it logs "listening:", driven through its control API, stopped with SIGINT (so that a
// --cpu-prof profile gets written).

import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchContext } from '../support/context.ts';
import { spawnChild, tail, waitUntil, type Child } from '../support/proc.ts';

export interface LogLine {
  level: number;
  time: string;
  msg: string;
  [key: string]: unknown;
}

export interface Portwake {
  child: Child;
  pid: number;
  /** Every JSON log line so far. */
  log(): LogLine[];
  /** Lines of container starts ("started container … ready in …"), with startMs and readinessMs. */
  starts(): LogLine[];
  /** Resolves once the service logged that it is ready (started or found running). */
  ready(service: string, timeoutMs?: number): Promise<void>;
  /** POST /services/NAME/start|stop on the control API (needs `control`). */
  control(service: string, action: 'start' | 'stop'): Promise<void>;
  close(): Promise<void>;
}

let instances = 0;

/**
 * Spawns `node <built main> ...args`; resolves once every listener is bound. `control`: the
 * control API's port (given as a flag to `proxy`; for `run` the config file must name it).
 */
export async function startPortwake(ctx: BenchContext, label: string, args: readonly string[], o: { control?: number; dockerHost?: string } = {}): Promise<Portwake> {
  const n = ++instances;
  const logFile = join(ctx.tmp, `portwake-${label}-${n}.log`);
  const nodeArgs: string[] = [];
  if (ctx.profileDir !== undefined) {
    const dir = join(ctx.profileDir, label);
    mkdirSync(dir, { recursive: true });
    // 250 µs rather than 1 ms: a cold start's few milliseconds need the finer grain.
    nodeArgs.push('--cpu-prof', '--cpu-prof-interval=250', `--cpu-prof-dir=${dir}`);
  }
  // `run` reads its control address from the config file (`control: {listen: …}`); `proxy` takes a flag.
  const controlArgs = o.control === undefined || args[0] !== 'proxy' ? [] : ['--control', `127.0.0.1:${o.control}`];
  // A TCP control API changes state only with a token (read from the environment, never argv).
  const token = randomBytes(16).toString('hex');
  const child = spawnChild(ctx.cleanup, process.execPath, [...nodeArgs, ctx.build.main, '--log-level', 'info', ...args, ...controlArgs], logFile, {
    env: { ...process.env, DOCKER_HOST: o.dockerHost ?? ctx.engine.dockerHost, PORTWAKE_TOKEN: token },
  });
  let exited: string | undefined;
  void child.exited.then((how) => { exited = String(how); });
  const log = (): LogLine[] => readLog(logFile);
  await waitUntil(`portwake (${label}) to listen`, () => {
    if (exited !== undefined) throw new Error(`portwake (${label}) exited (${exited}) before listening:\n${tail(logFile)}`);
    return log().some((l) => l.msg.startsWith('listening:')) ? true : undefined;
  }, 30_000);
  return {
    child,
    pid: child.pid,
    log,
    starts: () => log().filter((l) => /: started container /.test(l.msg)),
    ready: async (service, timeoutMs = 20_000) => {
      const prefix = `service "${service}": `;
      await waitUntil(`service ${service} to be ready`, () => (log().some((l) => l.msg.startsWith(prefix) && / (started|found running) container /.test(l.msg)) ? true : undefined), timeoutMs);
    },
    control: async (service, action) => {
      if (o.control === undefined) throw new Error(`portwake (${label}) has no control API`);
      await post(o.control, `/services/${encodeURIComponent(service)}/${action}`, token);
    },
    // SIGINT: a graceful shutdown (writes the --cpu-prof profile); open connections get --grace.
    close: () => child.stop('SIGINT', 15_000),
  };
}

function readLog(file: string): LogLine[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines: LogLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      lines.push(JSON.parse(line) as LogLine);
    } catch {
      // A line still being written.
    }
  }
  return lines;
}

function post(port: number, path: string, token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, timeout: 60_000, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`POST ${path}: ${res.statusCode} ${body}`))));
    });
    req.on('timeout', () => req.destroy(new Error(`POST ${path}: no answer within 60s`)));
    req.on('error', reject);
    req.end();
  });
}
