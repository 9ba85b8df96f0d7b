// Workload 2 — bulk throughput: 1 GiB each way through one connection (a busybox `nc -e dd` sink
// and source in the container, 1 MiB blocks), direct / portwake / systemd-socket-proxyd in turn;
// MB/s and the proxy process's CPU seconds per GiB (utime+stime from /proc).

import { setTimeout as delay } from 'node:timers/promises';
import { bulkBackend, containerIp } from '../support/backends.ts';
import { rotate, type BenchContext } from '../support/context.ts';
import { freePorts } from '../support/net.ts';
import { cpuSeconds } from '../support/proc.ts';
import { median } from '../support/stats.ts';
import { startPortwake } from '../peers/portwake.ts';
import { startProxyd } from '../peers/proxyd.ts';
import { download, poke, upload, warm, type Transfer } from './transfer.ts';

export const PATHS = ['direct', 'portwake', 'proxyd'] as const;
export type DataPath = (typeof PATHS)[number];
export const DIRECTIONS = ['download', 'upload'] as const;
export type Direction = (typeof DIRECTIONS)[number];

export interface BulkRun { round: number; ok: boolean; mbPerS: number; cpuS: number | undefined; detail: string }
export interface BulkPath {
  runs: BulkRun[];
  /** Medians over the successful runs. */
  mbPerS: number;
  cpuSPerGiB: number | undefined;
}
export interface BulkResult {
  bytes: number;
  rounds: number;
  download: Record<DataPath, BulkPath>;
  upload: Record<DataPath, BulkPath>;
}

export async function runBulk(ctx: BenchContext): Promise<BulkResult> {
  const mib = ctx.quick ? 256 : 1024;
  const bytes = mib * 2 ** 20;
  // Five: one round moves by ±15% on a shared 2-core machine, for every contender alike.
  const rounds = ctx.quick ? 1 : 5;
  const backend = await bulkBackend(ctx, mib);
  const ip = await containerIp(ctx.engine, backend.name);
  await delay(300); // the listeners come up right after the container starts
  const [pwDown = 0, pwUp = 0, pdDown = 0, pdUp = 0] = await freePorts(4);
  // One daemon per direction, so that each has its own CPU count (and --profile its own profile).
  // No control API here (nor in the other data-path workloads): proxyd has none either.
  const proxy = (port: number, containerPort: number): string[] => ['proxy', '--listen', `127.0.0.1:${port}`, '--container', backend.name, '--port', String(containerPort), '--grace', '1s'];
  const pwDownD = await startPortwake(ctx, 'bulk-download', proxy(pwDown, 82));
  const pwUpD = await startPortwake(ctx, 'bulk-upload', proxy(pwUp, 81));
  const proxydDown = await startProxyd(ctx, pdDown, `${ip}:82`);
  const proxydUp = await startProxyd(ctx, pdUp, `${ip}:81`);
  try {
    // Readiness probes and proxyd's exec happen before the clock: a probe of the source aborts one dd.
    for (const port of [pwDown, pwUp]) await warm('127.0.0.1', port);
    await pwDownD.ready(backend.name);
    await pwUpD.ready(backend.name);
    for (const port of [pdDown, pdUp]) await poke('127.0.0.1', port);
    await delay(200);

    const target = (dir: Direction, path: DataPath): { host: string; port: number; pid: number | undefined } => {
      if (path === 'direct') return { host: ip, port: dir === 'download' ? 82 : 81, pid: undefined };
      if (path === 'portwake') return dir === 'download' ? { host: '127.0.0.1', port: pwDown, pid: pwDownD.pid } : { host: '127.0.0.1', port: pwUp, pid: pwUpD.pid };
      return { host: '127.0.0.1', port: dir === 'download' ? pdDown : pdUp, pid: dir === 'download' ? proxydDown.pid : proxydUp.pid };
    };
    const runs: Record<Direction, Record<DataPath, BulkRun[]>> = {
      download: { direct: [], portwake: [], proxyd: [] },
      upload: { direct: [], portwake: [], proxyd: [] },
    };
    for (let round = 0; round < rounds; round++) {
      for (const dir of DIRECTIONS) {
        for (const path of rotate(PATHS, round)) {
          const t = target(dir, path);
          const cpu0 = t.pid === undefined ? 0 : cpuSeconds(t.pid);
          const r: Transfer = dir === 'download' ? await download(t.host, t.port, bytes, 120_000) : await upload(t.host, t.port, bytes, 120_000);
          const cpuS = t.pid === undefined ? undefined : cpuSeconds(t.pid) - cpu0;
          const mbPerS = r.bytes / 1e6 / (r.ms / 1000);
          runs[dir][path].push({ round, ok: r.ok, mbPerS, cpuS, detail: r.detail });
          ctx.say(`  bulk round ${round + 1}/${rounds} ${dir} ${path}: ${r.ok ? `${mbPerS.toFixed(0)} MB/s${cpuS === undefined ? '' : `, ${cpuS.toFixed(2)} CPU s`}` : `FAILED (${r.detail})`}`);
          await delay(200); // dd in the container exits and the next one is forked
        }
      }
    }
    const summarizePath = (list: BulkRun[]): BulkPath => {
      const ok = list.filter((r) => r.ok);
      const cpu = ok.map((r) => r.cpuS).filter((x): x is number => x !== undefined);
      return { runs: list, mbPerS: median(ok.map((r) => r.mbPerS)), cpuSPerGiB: cpu.length === 0 ? undefined : median(cpu) / (bytes / 2 ** 30) };
    };
    const side = (dir: Direction): Record<DataPath, BulkPath> => ({
      direct: summarizePath(runs[dir].direct),
      portwake: summarizePath(runs[dir].portwake),
      proxyd: summarizePath(runs[dir].proxyd),
    });
    return { bytes, rounds, download: side('download'), upload: side('upload') };
  } finally {
    await pwDownD.close();
    await pwUpD.close();
    await proxydDown.stop();
    await proxydUp.stop();
  }
}
