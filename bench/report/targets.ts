// The issue's targets, checked against a run: PASS, MISS, or not measured (the workload did not run).

import type { BenchResults, TargetCheck } from './results.ts';

export type { TargetCheck } from './results.ts';

const x = (r: number): string => `${r.toFixed(2)}x`;
const ms = (v: number): string => `${v.toFixed(1)} ms`;
const MB = 1e6;

export function evaluateTargets(r: BenchResults): TargetCheck[] {
  const out: TargetCheck[] = [];
  const add = (id: string, goal: string, measured: string, ratio: string | undefined, pass: boolean | undefined): void => {
    out.push({ id, goal, measured, ratio, pass });
  };
  const none = (id: string, goal: string): void => add(id, goal, 'not measured', undefined, undefined);

  const cold = r.cold;
  if (cold === undefined) {
    none('cold-overhead', 'cold-start overhead ≤ 5 ms above the container\'s own start-and-listen (median)');
    none('cold-vs-waitport', 'cold-start overhead ≥ 10x less than the recipe\'s waitport chain');
  } else {
    const pw = cold.contenders.portwake.overhead?.median ?? Number.NaN;
    const wp = cold.contenders['recipe-waitport'].overhead?.median ?? Number.NaN;
    add('cold-overhead', 'cold-start overhead ≤ 5 ms above the container\'s own start-and-listen (median)',
      `${ms(pw)} (first byte ${ms(cold.contenders.portwake.ttfb.median)} vs direct ${ms(cold.contenders.direct.ttfb.median)}; ${cold.contenders.portwake.failed} failed)`,
      `${x(pw / 5)} of the budget`, pw <= 5 && cold.contenders.portwake.failed === 0);
    // An overhead within the measurement's noise of zero would make any ratio pass: floor it at 1 ms.
    const ratio = wp / Math.max(pw, 1);
    add('cold-vs-waitport', 'cold-start overhead ≥ 10x less than the recipe\'s waitport chain',
      `waitport chain ${ms(wp)} vs portwake ${ms(pw)}${pw < 1 ? ' (counted as 1 ms)' : ''}`, `${x(ratio)} less`, ratio >= 10);
  }

  const late = r.late;
  if (late === undefined) none('late-first-request', 'no failed first request where the recipe\'s chain resets one');
  else {
    const pw = late.contenders.portwake;
    const wp = late.contenders['recipe-waitport'];
    const sl = late.contenders['recipe-sleep'];
    add('late-first-request', 'no failed first request where the recipe\'s chain resets one (late listener)',
      `portwake ${pw.samples.length - pw.failed}/${pw.samples.length} served; recipe waitport ${wp.failed}/${wp.samples.length} failed, sleep 1 ${sl.failed}/${sl.samples.length} failed`,
      undefined, pw.samples.length > 0 && pw.failed === 0);
  }

  const bulk = r.bulk;
  for (const dir of ['download', 'upload'] as const) {
    if (bulk === undefined) {
      none(`bulk-${dir}-throughput`, `bulk ${dir} throughput ≥ 1.0x proxyd`);
      none(`bulk-${dir}-cpu`, `bulk ${dir} proxy CPU per GiB ≤ 1.3x proxyd's`);
      continue;
    }
    const pw = bulk[dir].portwake;
    const pd = bulk[dir].proxyd;
    const t = pw.mbPerS / pd.mbPerS;
    add(`bulk-${dir}-throughput`, `bulk ${dir} throughput ≥ 1.0x proxyd`, `${pw.mbPerS.toFixed(0)} vs ${pd.mbPerS.toFixed(0)} MB/s`, x(t), t >= 1.0);
    const c = (pw.cpuSPerGiB ?? Number.NaN) / (pd.cpuSPerGiB ?? Number.NaN);
    add(`bulk-${dir}-cpu`, `bulk ${dir} proxy CPU per GiB ≤ 1.3x proxyd's`, `${(pw.cpuSPerGiB ?? Number.NaN).toFixed(2)} vs ${(pd.cpuSPerGiB ?? Number.NaN).toFixed(2)} CPU s/GiB`, x(c), c <= 1.3);
  }

  const rate = r.rate;
  const rateGoals = [['keepalive', 1.1, 'keep-alive'], ['close', 1.0, 'new-connection']] as const;
  for (const [mode, min, label] of rateGoals) {
    if (rate === undefined) {
      none(`rate-${mode}`, `${label} req rate ≥ ${min.toFixed(1)}x proxyd`);
      none(`rate-${mode}-p99`, `${label} p99 no worse than proxyd's`);
      continue;
    }
    const pw = rate[mode].portwake;
    const pd = rate[mode].proxyd;
    const t = pw.rps / pd.rps;
    add(`rate-${mode}`, `${label} req rate ≥ ${min.toFixed(1)}x proxyd`, `${pw.rps.toFixed(0)} vs ${pd.rps.toFixed(0)} req/s (${pw.errors} errors)`, x(t), t >= min && pw.errors === 0);
    add(`rate-${mode}-p99`, `${label} p99 no worse than proxyd's`, `${pw.p99Ms.toFixed(2)} vs ${pd.p99Ms.toFixed(2)} ms`, x(pw.p99Ms / pd.p99Ms), pw.p99Ms <= pd.p99Ms);
  }
  const pacedGoal = "new-connection p99 at the same offered load (paced) no worse than proxyd's";
  if (rate === undefined) none('rate-paced-p99', pacedGoal);
  else {
    const pw = rate.paced.portwake;
    const pd = rate.paced.proxyd;
    // The same load means both carried it: a proxy that fell behind the pace would look faster.
    const carried = pw.rps >= 0.97 * pd.rps && pw.errors === 0;
    add('rate-paced-p99', pacedGoal, `${pw.p99Ms.toFixed(2)} vs ${pd.p99Ms.toFixed(2)} ms at ${pw.rps.toFixed(0)} vs ${pd.rps.toFixed(0)} req/s`, x(pw.p99Ms / pd.p99Ms), pw.p99Ms <= pd.p99Ms && carried);
  }

  const herd = r.herd;
  if (herd === undefined) none('herd', 'herd: 1,000 of 1,000 served, exactly one start');
  else {
    add('herd', 'herd: 1,000 of 1,000 served, exactly one start',
      `${herd.served}/${herd.connections} served, ${herd.engineStarts} start(s), last first byte after ${ms(herd.lastFirstByteMs)}`,
      undefined, herd.served === herd.connections && herd.connections === 1000 && herd.engineStarts === 1);
  }

  const scale = r.scale;
  const thousand = scale?.services.find((s) => s.services === 1000);
  if (thousand === undefined) none('scale-rss-1000', 'idle RSS with 1,000 services ≤ 80 MB');
  else {
    // The higher of the two idle figures: fresh, and once a service has activated (client loaded).
    const mibs = Math.max(thousand.rssMiB, thousand.rssAfterActivationMiB);
    const bytes = mibs * 2 ** 20;
    const mb = (m: number): string => (m * 2 ** 20 / MB).toFixed(1);
    add('scale-rss-1000', 'idle RSS with 1,000 services ≤ 80 MB, fresh and after one activated',
      `${mb(thousand.rssMiB)} MB fresh (${thousand.inspects} inspects at start-up), ${mb(thousand.rssAfterActivationMiB)} MB after one activated${thousand.activationServed ? '' : ' (its request FAILED)'}`,
      `${x(bytes / (80 * MB))} of the budget`, bytes <= 80 * MB && thousand.activationServed);
  }
  if (scale === undefined || scale.idle.target !== 9000) none('scale-idle-9000', '9,000 proxied idle connections without errors at ≤ 8 KiB RSS each');
  else {
    const i = scale.idle;
    const errors = Object.values(i.errors).reduce((a, b) => a + b, 0);
    add('scale-idle-9000', '9,000 proxied idle connections without errors at ≤ 8 KiB RSS each',
      `${i.ok}/${i.target} open, ${errors} errors, ${i.perConnectionKiB.toFixed(2)} KiB each (RSS ${i.rssBeforeMiB.toFixed(1)} → ${i.rssAfterMiB.toFixed(1)} MiB)`,
      `${x(i.perConnectionKiB / 8)} of the budget`, i.ok === i.target && errors === 0 && i.perConnectionKiB <= 8);
  }
  return out;
}

export function verdict(t: TargetCheck): string {
  return t.pass === undefined ? '—' : t.pass ? 'PASS' : 'MISS';
}

export function printTargets(targets: readonly TargetCheck[] | undefined, print: (line: string) => void): void {
  for (const t of targets ?? []) {
    print(`${verdict(t).padEnd(4)}  ${t.goal}: ${t.measured}${t.ratio === undefined ? '' : ` [${t.ratio}]`}`);
  }
}
