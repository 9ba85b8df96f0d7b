// The HTTP-mode bench line: keep-alive requests/s and p99 through portwake's HTTP Host router,
// against a plain Node `http` reverse proxy and against the upstream directly. Each contender is
// its own process (bench/peers/http-peers.ts); wrk drives it with 20 connections for 5 s per round,
// the contenders alternating over 3 rounds; the median round is reported, with the ratios.
//
//   node --import tsx bench/http-router.ts [--connections 20] [--seconds 5] [--rounds 3]

import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { resolve } from 'node:path';
import { runWrk, type WrkRun } from './workloads/wrk.ts';

const PEERS = resolve(import.meta.dirname, 'peers/http-peers.ts');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i < 0 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number`);
  return v;
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const children: ChildProcess[] = [];

async function peer(role: string, port: number, up?: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', PEERS, role, String(port), ...(up === undefined ? [] : [String(up)])], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`${role} did not start within 20s`)), 20_000);
    child.stdout?.on('data', (c: Buffer) => { if (c.toString().includes('ready')) { clearTimeout(timer); ok(); } });
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`${role} exited (${code})`)); });
  });
}

function median(runs: WrkRun[], pick: (r: WrkRun) => number): number {
  const v = runs.map(pick).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)] ?? 0;
}

async function main(): Promise<void> {
  const connections = arg('connections', 20);
  const seconds = arg('seconds', 5);
  const rounds = arg('rounds', 3);
  const [up, plain, router] = [await freePort(), await freePort(), await freePort()];
  await peer('upstream', up);
  await peer('node-proxy', plain, up);
  await peer('portwake', router, up);
  const contenders = { direct: up, 'node http proxy': plain, 'portwake http router': router };
  const results = new Map<string, WrkRun[]>();
  for (let round = 0; round < rounds; round++) {
    for (const [name, port] of Object.entries(contenders)) {
      // localhost: the Host the router's service claims.
      const run = await runWrk({ url: `http://localhost:${port}/`, threads: 1, connections, seconds, close: false });
      if (run.errors > 0) throw new Error(`${name}: ${run.errors} errors`);
      results.set(name, [...(results.get(name) ?? []), run]);
    }
  }
  const direct = median(results.get('direct') ?? [], (r) => r.rps);
  const lines = [`HTTP keep-alive, wrk -t1 -c${connections} -d${seconds}s, median of ${rounds} rounds:`];
  for (const [name, runs] of results) {
    const rps = median(runs, (r) => r.rps);
    lines.push(`  ${name.padEnd(22)} ${rps.toFixed(0).padStart(7)} req/s  p99 ${median(runs, (r) => r.p99Ms).toFixed(2)} ms  (${(rps / direct).toFixed(2)}x direct)`);
  }
  const viaRouter = median(results.get('portwake http router') ?? [], (r) => r.rps);
  const viaNode = median(results.get('node http proxy') ?? [], (r) => r.rps);
  lines.push(`  router / plain Node proxy: ${(viaRouter / viaNode).toFixed(2)}x`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/http-router: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
}).finally(() => {
  for (const c of children) c.kill();
});
