// `npm run bench`: sets up everything (the harness's private engine, the offline images, the
// backends, portwake built from source, systemd-socket-proxyd), runs the workloads with the
// contenders alternating, checks the targets, and writes bench/results/ (JSON, Markdown, SVG).

import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { ensureImage, getEngine } from '../test/support/engine.ts';
import { parseArgs, WORKLOAD_NAMES, type BenchArgs, type WorkloadName } from './support/args.ts';
import { buildPortwake } from './support/build.ts';
import { Cleanup } from './support/cleanup.ts';
import type { BenchContext } from './support/context.ts';
import { describeMachine } from './support/machine.ts';
import { PROXYD } from './peers/proxyd.ts';
import { runCold } from './workloads/cold.ts';
import { runLateListener } from './workloads/late-listener.ts';
import { runBulk } from './workloads/bulk.ts';
import { runRate } from './workloads/rate.ts';
import { runHerd } from './workloads/herd.ts';
import { runScale } from './workloads/scale.ts';
import { runPause } from './workloads/pause.ts';
import { evaluateTargets, printTargets } from './report/targets.ts';
import { renderMarkdown } from './report/markdown.ts';
import { renderColdStartSvg } from './report/svg.ts';
import { summarizeProfiles } from './report/profile.ts';
import type { BenchResults } from './report/results.ts';

const REPO = resolve(import.meta.dirname, '..');

/** Each workload's time limit; a workload past it is reported as failed and the run goes on. */
const LIMITS_S: Record<WorkloadName, number> = { cold: 180, late: 150, bulk: 180, rate: 420, herd: 90, scale: 180, pause: 150 };

const WORKLOADS: { [K in WorkloadName]: (ctx: BenchContext) => Promise<unknown> } = {
  cold: runCold,
  late: runLateListener,
  bulk: runBulk,
  rate: runRate,
  herd: runHerd,
  scale: runScale,
  pause: runPause,
};

const say = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

function preflight(): void {
  const missing: string[] = [];
  const need = (path: string, pkg: string): void => {
    if (!existsSync(path)) missing.push(`${path} (apt-get install ${pkg})`);
  };
  need('/usr/bin/wrk', 'wrk');
  need('/usr/bin/systemd-socket-activate', 'systemd');
  need(PROXYD, 'systemd');
  need('/usr/bin/nc', 'netcat-openbsd');
  if (missing.length > 0) throw new Error(`missing programs the bench needs: ${missing.join(', ')}`);
}

function withDeadline<T>(what: string, p: Promise<T>, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${seconds}s`)), seconds * 1000);
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

function outDir(args: BenchArgs): string {
  if (args.out !== undefined) return resolve(args.out);
  const full = !args.quick && !args.profile && args.only.length === WORKLOAD_NAMES.length;
  // Partial, quick and profiled runs never overwrite the committed results.
  return join(REPO, 'bench', 'results', full ? '' : 'partial.tmp');
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const began = Date.now();
  const cleanup = new Cleanup();
  let interrupted = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (interrupted) return;
    interrupted = true;
    say(`bench: ${sig}, cleaning up`);
    void cleanup.runAll().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    preflight();
    say('bench: engine and images …');
    const engine = await getEngine();
    const images = { nginx: await ensureImage('nginx'), busybox: await ensureImage('busybox') };
    const tmp = mkdtempSync(join(tmpdir(), 'portwake-bench-'));
    // The logs stay for a look afterwards; the build and the source snapshot go.
    cleanup.defer('remove the build', () => {
      for (const d of ['portwake', 'tree', 'tree.tar']) rmSync(join(tmp, d), { recursive: true, force: true });
    });
    say(`bench: building portwake from the ${args.ref === undefined ? 'working tree' : `ref ${args.ref}`} into ${tmp} …`);
    const build = buildPortwake(REPO, tmp, args.ref);
    const profileDir = args.profile ? join(tmp, 'profiles') : undefined;
    const ctx: BenchContext = { repo: REPO, tmp, engine, images, build, cleanup, quick: args.quick, profileDir, say };
    const machine = await describeMachine(engine);
    say(`bench: ${machine.cores} cores (${machine.model}), load ${machine.loadStart.join(' ')}; portwake ${build.commit.slice(0, 12)}${build.dirty ? ' + uncommitted src/' : ''}${build.splice ? ', splice addon built' : ', no splice addon'}`);

    const results: BenchResults = {
      meta: {
        date: new Date().toISOString(),
        quick: args.quick,
        profiled: args.profile,
        only: [...args.only],
        portwake: { source: build.source, commit: build.commit, dirtySrc: build.dirty, splice: build.splice },
        machine,
        durationS: 0,
      },
      errors: {},
    };
    for (const name of args.only) {
      say(`bench: ${name} …`);
      const t0 = Date.now();
      try {
        const r = await withDeadline(name, WORKLOADS[name](ctx), LIMITS_S[name]);
        (results as unknown as Record<string, unknown>)[name] = r;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        results.errors[name] = message;
        say(`bench: ${name} FAILED: ${message}`);
      }
      say(`bench: ${name} took ${((Date.now() - t0) / 1000).toFixed(0)}s`);
    }
    machine.loadEnd = (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100);
    results.meta.durationS = Math.round((Date.now() - began) / 1000);
    results.targets = evaluateTargets(results);

    const out = outDir(args);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(join(out, 'results.md'), renderMarkdown(results));
    if (results.cold !== undefined) writeFileSync(join(out, 'cold-start.svg'), renderColdStartSvg(results.cold));
    if (profileDir !== undefined) {
      const summary = summarizeProfiles(profileDir);
      writeFileSync(join(out, 'profile.md'), summary);
      process.stdout.write(`\n${summary}\n`);
    }
    process.stdout.write(`\n${renderMarkdown(results)}\n`);
    printTargets(results.targets, (l) => process.stdout.write(`${l}\n`));
    say(`bench: wrote ${relative(process.cwd(), out) || '.'}/ in ${results.meta.durationS}s; logs in ${tmp}`);
    return Object.keys(results.errors).length > 0 ? 1 : 0;
  } finally {
    await cleanup.runAll();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    say(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
