// Soak (`npm run soak`, not part of `npm test`): the real CLI daemon as a child process in front of
// the real engine, 100,000 short connections through a warm service and 1,000 cold-start cycles
// (connect → container starts → answer → idle stop) at the same time. The daemon's open file
// descriptors and RSS are read from /proc at a baseline after warm-up and again at the end, after
// the connections closed and a settle period: descriptors must come back (within FD_TOLERANCE),
// RSS must not grow beyond the stated bound, and no connection may fail.
//
// Scale and bounds (environment):
//   SOAK_CONNECTIONS   short connections through the warm service      (default 100000)
//   SOAK_CONCURRENCY   of those, in flight at once                     (default 50)
//   SOAK_CYCLES        cold-start cycles of the idle-stopped service   (default 1000)
//   SOAK_IDLE          the cold service's idleTimeout                  (default 300ms)
//   SOAK_MINUTES       the whole run's time bound                      (default 60)
//   SOAK_RSS_GROWTH_MIB allowed RSS growth, end over baseline          (default 32)

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startCliDaemon, type CliChild, type LogRecord } from '../support/cli-child.ts';
import { freePorts, httpdCmd, httpGet } from '../support/daemon-harness.ts';
import { createContainer, ensureImage, getEngine } from '../support/engine.ts';
import { scratchDir } from '../support/file-daemon.ts';

function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name}=${text}: expected a whole number >= 0`);
  return n;
}

const CONNECTIONS = envInt('SOAK_CONNECTIONS', 100_000);
const CONCURRENCY = Math.max(1, envInt('SOAK_CONCURRENCY', 50));
const CYCLES = envInt('SOAK_CYCLES', 1_000);
const IDLE = process.env['SOAK_IDLE'] ?? '300ms';
const MINUTES = envInt('SOAK_MINUTES', 60);
const RSS_GROWTH_MIB = envInt('SOAK_RSS_GROWTH_MIB', 32);
/** The daemon's engine client may keep one more or one fewer idle connection to dockerd. */
const FD_TOLERANCE = 2;
const WARMUP_CONNECTIONS = Math.min(2_000, CONNECTIONS);
const WARMUP_CYCLES = Math.min(3, CYCLES);
const SETTLE_MS = 5_000;
const CONNECTION_DEADLINE_MS = 30_000;
const CYCLE_DEADLINE_MS = 60_000;

interface Sample { fds: number; rssKiB: number; at: number }

function sample(pid: number): Sample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  assert.ok(rss !== null, `no VmRSS in /proc/${pid}/status`);
  return { fds: readdirSync(`/proc/${pid}/fd`).length, rssKiB: Number(rss[1]), at: Date.now() };
}

/** What each descriptor points at, for a failure message (socket:[…], pipe:[…], anon_inode:…). */
function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, '');
    } catch {
      continue; // closed while we looked
    }
    kinds[target] = (kinds[target] ?? 0) + 1;
  }
  return kinds;
}

const mib = (kib: number): string => `${(kib / 1024).toFixed(1)} MiB`;
const show = (s: Sample): string => `fds ${s.fds}, RSS ${mib(s.rssKiB)}`;

/** One short HTTP/1.0 exchange on a fresh connection; resolves with the status line. */
function shortConnection(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    s.setTimeout(CONNECTION_DEADLINE_MS, () => s.destroy(new Error(`no answer within ${CONNECTION_DEADLINE_MS}ms`)));
    s.on('connect', () => s.end('GET / HTTP/1.0\r\nHost: soak\r\n\r\n'));
    s.on('data', (c: Buffer) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const head = Buffer.concat(chunks).toString('latin1').split('\r\n', 1)[0] ?? '';
      resolve(head);
    });
  });
}

/** Runs `count` short connections, `concurrency` at a time; collects failures instead of stopping. */
async function connections(port: number, count: number, concurrency: number, deadline: number, failures: string[]): Promise<number> {
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < count && Date.now() < deadline) {
      const n = next++;
      try {
        const head = await shortConnection(port);
        if (!head.startsWith('HTTP/1.1 200')) failures.push(`connection ${n}: answered ${JSON.stringify(head)}`);
      } catch (err) {
        failures.push(`connection ${n}: ${err instanceof Error ? err.message : String(err)}`);
      }
      done++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return done;
}

const isStop = (service: string) => (l: LogRecord): boolean => l.msg.startsWith(`service "${service}": stopped container`);
const isStart = (service: string) => (l: LogRecord): boolean => l.msg.startsWith(`service "${service}": started container`);

/** Waits for the next log line matching pred that no earlier call consumed. */
async function nextLog(pw: CliChild, what: string, pred: (l: LogRecord) => boolean, consumed: Set<LogRecord>, timeoutMs: number): Promise<void> {
  const found = await pw.waitForLog(what, (l) => pred(l) && !consumed.has(l), timeoutMs);
  consumed.add(found);
}

/**
 * `count` cycles: a request starts the container, then the idle timeout stops it again. The first
 * failure ends the cycles and is recorded with the daemon's last log lines.
 */
async function coldCycles(pw: CliChild, port: number, count: number, deadline: number, consumed: Set<LogRecord>, failures: string[]): Promise<number> {
  let done = 0;
  for (let i = 0; i < count && Date.now() < deadline; i++) {
    const at = new Date().toISOString();
    try {
      const res = await httpGet({ host: '127.0.0.1', port }, '/', CYCLE_DEADLINE_MS);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      await nextLog(pw, `cold cycle ${i}: the start`, isStart('cold'), consumed, CYCLE_DEADLINE_MS);
      await nextLog(pw, `cold cycle ${i}: the idle stop`, isStop('cold'), consumed, CYCLE_DEADLINE_MS);
    } catch (err) {
      const recent = pw.logs.slice(-12).map((l) => `  ${l.level} ${typeof l['time'] === 'number' ? new Date(l['time']).toISOString() : ''} ${l.msg}`).join('\n');
      failures.push(`cold cycle ${i} (request at ${at}): ${err instanceof Error ? err.message : String(err)}; the daemon's last log lines:\n${recent}`);
      break;
    }
    done++;
  }
  return done;
}

describe('soak', () => {
  it(`${CONNECTIONS} short connections and ${CYCLES} cold-start cycles: descriptors and RSS back to baseline, no error`, { timeout: (MINUTES + 5) * 60_000 }, async (t) => {
    const engine = await getEngine();
    const [nginx, busybox] = await Promise.all([ensureImage('nginx'), ensureImage('busybox')]);
    const warm = await createContainer(engine, { image: nginx, expose: [80], nameHint: 'soak-warm' });
    t.after(() => warm.remove());
    const cold = await createContainer(engine, { image: busybox, cmd: httpdCmd(), expose: [80], nameHint: 'soak-cold', stopSignal: 'SIGKILL' });
    t.after(() => cold.remove());
    const [warmPort, coldPort] = await freePorts(2);
    const dir = await scratchDir(t, 'pw-soak-');
    const file = join(dir, 'portwake.yaml');
    await writeFile(file, [
      'services:',
      `  warm: {listen: "127.0.0.1:${warmPort}", container: ${warm.name}, port: 80}`,
      `  cold: {listen: "127.0.0.1:${coldPort}", container: ${cold.name}, port: 80, idleTimeout: ${IDLE}, stopTimeout: 1s}`,
      '',
    ].join('\n'));
    const pw = await startCliDaemon(t, engine, ['run', '-c', file]);
    const pid = pw.proc.pid;
    assert.ok(pid !== undefined);
    const deadline = Date.now() + MINUTES * 60_000;
    const consumed = new Set<LogRecord>();
    const failures: string[] = [];
    const log = (line: string): void => { process.stdout.write(`soak: ${line}\n`); };

    // Warm-up: the warm container running, the cold one through a few cycles (the engine's events
    // stream is open from the first start on), the data path's buffers allocated.
    const t0 = Date.now();
    await connections(warmPort, WARMUP_CONNECTIONS, CONCURRENCY, deadline, failures);
    await coldCycles(pw, coldPort, WARMUP_CYCLES, deadline, consumed, failures);
    assert.deepEqual(failures, [], 'warm-up');
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const baseline = sample(pid);
    const baselineKinds = fdKinds(pid);
    log(`baseline after warm-up (${WARMUP_CONNECTIONS} connections, ${WARMUP_CYCLES} cold starts, ${Date.now() - t0} ms): ${show(baseline)}`);

    let peak = baseline;
    const sampler = setInterval(() => {
      const s = sample(pid);
      if (s.rssKiB > peak.rssKiB) peak = { ...s, fds: Math.max(s.fds, peak.fds) };
      else if (s.fds > peak.fds) peak = { ...peak, fds: s.fds };
    }, 1_000);
    t.after(() => clearInterval(sampler));

    const t1 = Date.now();
    const [made, cycles] = await Promise.all([
      connections(warmPort, CONNECTIONS, CONCURRENCY, deadline, failures).then((n) => {
        log(`${n} short connections in ${Date.now() - t1} ms (${Math.round(n / ((Date.now() - t1) / 1000))}/s)`);
        return n;
      }),
      coldCycles(pw, coldPort, CYCLES, deadline, consumed, failures).then((n) => {
        log(`${n} cold-start cycles in ${Date.now() - t1} ms (${Math.round((Date.now() - t1) / Math.max(1, n))} ms each)`);
        return n;
      }),
    ]);
    clearInterval(sampler);
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const end = sample(pid);
    log(`peak during the run: fds ${peak.fds}, RSS ${mib(peak.rssKiB)}`);
    log(`end after ${SETTLE_MS} ms settle: ${show(end)}`);
    log(`difference: fds ${end.fds - baseline.fds}, RSS ${mib(end.rssKiB - baseline.rssKiB)} (bounds: fds ±${FD_TOLERANCE}, RSS +${RSS_GROWTH_MIB} MiB)`);

    assert.deepEqual(failures.slice(0, 20), [], `${failures.length} connection(s) failed`);
    assert.equal(made, CONNECTIONS, `only ${made} of ${CONNECTIONS} connections within ${MINUTES} min`);
    assert.equal(cycles, CYCLES, `only ${cycles} of ${CYCLES} cold-start cycles within ${MINUTES} min`);
    const errors = pw.logs.filter((l) => l.level >= 40);
    assert.deepEqual(errors.map((l) => l.msg).slice(0, 20), [], 'no warning or error logged by the daemon');
    assert.equal(pw.proc.exitCode, null, 'the daemon is still running');
    assert.ok(Math.abs(end.fds - baseline.fds) <= FD_TOLERANCE,
      `descriptors: ${end.fds} at the end, ${baseline.fds} at baseline\nbaseline: ${JSON.stringify(baselineKinds)}\nend:      ${JSON.stringify(fdKinds(pid))}`);
    assert.ok(end.rssKiB - baseline.rssKiB <= RSS_GROWTH_MIB * 1024,
      `RSS grew from ${mib(baseline.rssKiB)} to ${mib(end.rssKiB)}, more than ${RSS_GROWTH_MIB} MiB`);
  });
});
