// results.json → results.md: the machine, the targets, and one table per workload with ratios
// against systemd-socket-proxyd and against the app reached directly.

import type { Summary } from '../support/stats.ts';
import { COLD_CONTENDERS, type ColdSeries } from '../workloads/cold-rig.ts';
import { PATHS } from '../workloads/bulk.ts';
import { WORKLOAD_NAMES } from '../support/args.ts';
import type { BenchResults } from './results.ts';
import { verdict } from './targets.ts';

const f = (v: number | undefined, digits = 1): string => (v === undefined || !Number.isFinite(v) ? '—' : v.toFixed(digits));
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || b === undefined || !Number.isFinite(a / b) ? '—' : `${(a / b).toFixed(2)}x`);
const row = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
const table = (head: readonly string[], rows: readonly (readonly string[])[]): string[] => [row(head), row(head.map(() => '---')), ...rows.map(row)];

const NAMES: Record<string, string> = {
  direct: 'direct (container IP)',
  portwake: 'portwake',
  proxyd: 'systemd-socket-proxyd',
  'recipe-waitport': 'recipe: docker start + waitport + proxyd',
  'recipe-sleep': 'recipe: docker start + sleep 1 + proxyd',
};

export function renderMarkdown(r: BenchResults): string {
  const m = r.meta.machine;
  const out: string[] = ['# portwake benchmark results', ''];
  const flags = [r.meta.quick ? '--quick (not comparable with the targets)' : '', r.meta.profiled ? '--profile (portwake ran under --cpu-prof)' : '', r.meta.only.length < WORKLOAD_NAMES.length ? `--only ${r.meta.only.join(',')}` : ''].filter((s) => s !== '');
  out.push(
    `Run ${r.meta.date} in ${r.meta.durationS} s${flags.length > 0 ? ` (${flags.join('; ')})` : ''}; portwake ${r.meta.portwake.commit.slice(0, 12)} built from the ${r.meta.portwake.source}${r.meta.portwake.dirtySrc ? ' with uncommitted changes in src/' : ''}, ${r.meta.portwake.splice ? 'with' : 'without'} the zero-copy splice addon.`,
    '',
    `Machine: ${m.cores} cores, ${m.model}, ${m.memoryGiB} GiB, Linux ${m.kernel}; load average ${m.loadStart.join(' / ')} at the start, ${m.loadEnd.join(' / ')} at the end (1/5/15 min).`,
    `Node ${m.node}, Docker ${m.docker}, nginx ${m.nginx}, ${m.systemd}, ${m.wrk}.`,
    '',
  );
  for (const [name, message] of Object.entries(r.errors)) out.push(`**${name} failed:** ${message.split('\n')[0] ?? ''}`, '');

  if (r.targets !== undefined) {
    out.push('## Targets', '', ...table(['', 'Target', 'Measured', 'Ratio'], r.targets.map((t) => [`**${verdict(t)}**`, t.goal, t.measured, t.ratio ?? ''])), '');
  }
  if (r.cold !== undefined) {
    out.push(`## Cold start (nginx, ${r.cold.rounds} rounds, contenders alternating)`, '');
    out.push('Time from the client\'s connect() to the first response byte; the container is stopped before each round. Every contender reaches the engine through a tap that times its own `POST /containers/…/start`. **Overhead** = first byte − that start call − what the app itself needs after the call (the direct rounds\' median of first byte − start answered: one inspect, the app\'s listen, its response), which takes the engine\'s round-to-round variance out. *Paired* = first byte − the direct first byte of the same round (simpler, noisier).', '');
    out.push(...coldTable(r.cold), '');
    out.push(`The app after the start call (direct, median): ${f(r.cold.appAfterStartMs)} ms; the app accepted its first connection ${f(r.cold.directListeningMs.median)} ms after \`docker start\` was sent. portwake's own log: container start ${f(med(r.cold.portwakeLog.startMs))} ms, readiness ${f(med(r.cold.portwakeLog.readinessMs))} ms (medians).`, '');
    out.push(...phaseTable(r.cold), '');
    out.push('![cold start](cold-start.svg)', '');
  }
  if (r.late !== undefined) {
    out.push(`## Late listener (app listens 2 s after its container starts; published on 127.0.0.1:${r.late.publishedPort}; ${r.late.rounds} rounds)`, '');
    out.push('The recipe\'s `nc -z` polls the published port, where Docker\'s userland proxy accepts as soon as the container runs. portwake is given the same published port as its upstream.', '');
    out.push(...table(['Contender', 'First request served', 'How the others failed', 'First byte (median, served)'],
      COLD_CONTENDERS.map((c) => {
        const s = r.late?.contenders[c];
        const fails = [...new Set(s?.samples.filter((x) => !x.ok).map((x) => x.detail) ?? [])].join('; ');
        return [NAMES[c] ?? c, `${(s?.samples.length ?? 0) - (s?.failed ?? 0)}/${s?.samples.length ?? 0}`, fails === '' ? '—' : fails, `${f(s?.ttfb.median)} ms`];
      })), '');
  }
  if (r.bulk !== undefined) {
    const b = r.bulk;
    out.push(`## Bulk throughput (${b.bytes / 2 ** 30} GiB each way through one connection, ${b.rounds} rounds)`, '');
    out.push('busybox `nc -e dd` sink and source in the container (1 MiB blocks); MB = 10⁶ bytes. CPU: the proxy process\'s utime+stime.', '');
    const rows: string[][] = [];
    for (const dir of ['download', 'upload'] as const) {
      for (const p of PATHS) {
        const s = b[dir][p];
        rows.push([dir, NAMES[p] ?? p, f(s.mbPerS, 0), ratio(s.mbPerS, b[dir].proxyd.mbPerS), ratio(s.mbPerS, b[dir].direct.mbPerS), f(s.cpuSPerGiB, 2), p === 'direct' ? '—' : ratio(s.cpuSPerGiB, b[dir].proxyd.cpuSPerGiB)]);
      }
    }
    out.push(...table(['Direction', 'Path', 'MB/s (median)', 'vs proxyd', 'vs direct', 'Proxy CPU s/GiB', 'CPU vs proxyd'], rows), '');
  }
  if (r.rate !== undefined) {
    const w = r.rate.wrk;
    out.push(`## Request rate (wrk -t${w.threads} -c${w.connections} -d${w.seconds}s, nginx index page, ${r.rate.rounds} rounds)`, '');
    const rows: string[][] = [];
    const pace = r.rate.pace;
    const modeNames = { keepalive: 'keep-alive', close: 'new connection each', paced: `new connection each, paced to ${f(pace.offeredRps, 0)} req/s` } as const;
    for (const mode of ['keepalive', 'close', 'paced'] as const) {
      for (const p of PATHS) {
        const s = r.rate[mode][p];
        const pd = r.rate[mode].proxyd;
        rows.push([modeNames[mode], NAMES[p] ?? p, f(s.rps, 0), ratio(s.rps, pd.rps), ratio(s.rps, r.rate[mode].direct.rps), f(s.p50Ms, 2), f(s.p99Ms, 2), String(s.errors), f(s.cpuMsPer1kReq, 1), p === 'direct' ? '—' : ratio(s.cpuMsPer1kReq, pd.cpuMsPer1kReq)]);
      }
    }
    out.push(...table(['Mode', 'Path', 'req/s', 'vs proxyd', 'vs direct', 'p50 ms', 'p99 ms', 'Errors', 'Proxy CPU ms/1k req', 'CPU vs proxyd'], rows), '');
    out.push(`Paced: the same offered load for every path, ${Math.round(pace.share * 100)}% of proxyd's new-connection rate above (each of the ${w.connections} connections waits ${pace.delayMs} ms before its next request, wrk's \`delay()\`), so that no proxy is the bottleneck. At saturation the faster proxy leaves the CPU to wrk and nginx, and their scheduling sets its tail.`, '');
  }
  if (r.herd !== undefined) {
    const h = r.herd;
    const fails = Object.entries(h.failures).map(([k, v]) => `${v}× ${k}`).join(', ');
    out.push('## Herd (portwake only)', '');
    out.push(`${h.connections} connections at once to a stopped service: **${h.served} served**, **${h.engineStarts} container start(s)** by the engine's events (portwake logged ${h.portwakeStarts}); first byte after ${f(h.firstByteMs.median)} ms (median), the last after **${f(h.lastFirstByteMs)} ms**${fails === '' ? '' : `; failures: ${fails}`}.`, '');
  }
  if (r.pause !== undefined) {
    const p = r.pause;
    out.push(`## Wake after idle: stop vs pause (nginx, idleTimeout ${p.idleTimeoutMs} ms, ${p.rounds} rounds, alternating)`, '');
    out.push(...table(['idleAction', 'First byte after idle, median (ms)', 'p25–p75 (ms)', 'min–max (ms)', 'Engine call in portwake\'s log (median ms)', 'Failed'],
      (['stop', 'pause'] as const).map((c) => {
        const s = p.contenders[c];
        return [c === 'stop' ? '`stop` (cold start)' : '`pause` (unpause)', f(s.ttfb.median), `${f(s.ttfb.p25)}–${f(s.ttfb.p75)}`, `${f(s.ttfb.min)}–${f(s.ttfb.max)}`, `${f(s.engineMs)} (${c === 'stop' ? 'start' : 'unpause'})`, String(s.failed)];
      })), '');
    out.push(`A paused container answers its first request **${f(p.speedup, 1)}x** sooner than a stopped one (medians).`, '');
  }
  if (r.scale !== undefined) {
    const s = r.scale;
    out.push('## Scale (portwake only)', '');
    out.push(...table(['Services configured', 'Idle RSS (MiB)', 'Idle RSS after one activated (MiB)', 'That activation, first byte (ms)', 'Listening after (ms)', 'Container inspects at start-up', 'Engine requests at start-up'],
      s.services.map((x) => [String(x.services), f(x.rssMiB), x.activationServed ? f(x.rssAfterActivationMiB) : `${f(x.rssAfterActivationMiB)} (its request failed)`, f(x.activationMs), f(x.startupMs, 0), String(x.inspects), x.engineRequests.join(', ')])), '');
    out.push('"After one activated": the first service\'s connection started its (fake engine\'s) container and was served, then the daemon sat idle a second — the engine client and the events stream are loaded by then, as in any daemon that has been used. That activation\'s time is portwake\'s own work (the fake engine starts nothing), first-use costs included: it should not grow with the services configured.', '');
    out.push(`For scale: \`node -e\` doing nothing holds ${f(s.nodeFloorMiB)} MiB.`, '');
    const i = s.idle;
    const errs = Object.entries(i.errors).map(([k, v]) => `${v}× ${k}`).join(', ');
    out.push(`${i.target} idle connections through portwake (${i.clients} client processes, one keep-alive GET each, then idle): ${i.ok} served${errs === '' ? ', no errors' : `, errors: ${errs}`}; RSS ${f(i.rssBeforeMiB)} → ${f(i.rssAfterMiB)} MiB = **${f(i.perConnectionKiB, 2)} KiB per connection**; ${i.openFds} open fds; ${f(i.cpuUsPerConnectionOpened, 0)} µs CPU per connection opened, ${f(i.cpuSDuringHold, 2)} CPU s during ${i.holdS} s idle.`, '');
  }
  return `${out.join('\n')}\n`;
}

function med(v: readonly number[]): number | undefined {
  if (v.length === 0) return undefined;
  const s = [...v].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid] : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

function coldTable(c: ColdSeries): string[] {
  const spread = (s: Summary): string => `${f(s.p25)}–${f(s.p75)}`;
  const pwOverhead = c.contenders.portwake.overhead?.median;
  return table(['Contender', 'First byte ms (median)', 'p25–p75', 'min–max', 'Overhead ms (median, p25–p75)', 'Overhead vs portwake', 'Paired overhead ms (median)', 'Failed first requests'],
    COLD_CONTENDERS.map((name) => {
      const s = c.contenders[name];
      const o = s.overhead;
      const fails = s.samples.filter((x) => !x.ok).map((x) => x.detail);
      return [
        NAMES[name] ?? name,
        f(s.ttfb.median),
        spread(s.ttfb),
        `${f(s.ttfb.min)}–${f(s.ttfb.max)}`,
        o === undefined ? '(baseline)' : `${f(o.median)} (${spread(o)})`,
        o === undefined || name === 'portwake' ? '—' : ratio(o.median, Math.max(pwOverhead ?? Number.NaN, 1)),
        s.pairedOverhead === undefined ? '—' : f(s.pairedOverhead.median),
        fails.length === 0 ? '0' : `${fails.length} (${[...new Set(fails)].join('; ')})`,
      ];
    }));
}

function phaseTable(c: ColdSeries): string[] {
  return table(['Contender', 'connect → start call sent', 'start call (engine)', 'start answered → first byte'],
    COLD_CONTENDERS.map((name) => {
      const p = c.contenders[name].phases;
      return [NAMES[name] ?? name, `${f(p.beforeStartMs)} ms`, `${f(p.startCallMs)} ms`, `${f(p.afterStartMs)} ms`];
    }));
}
