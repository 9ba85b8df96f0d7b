// What `portwake check` finds wrong with one service's containers, as sentences: problems (the
// service cannot work as configured) and warnings (it works, but something will fight it).

import type { ServiceConfig } from '../config/types.ts';
import { describe } from '../core/errors.ts';
import type { ContainerInfo, Provider } from '../core/provider.ts';
import { checkReadySpec } from '../core/readiness.ts';
import { fightsIdleStop, restartPolicyWarning } from '../core/activation/restart-policy.ts';
import { portProblem } from '../core/upstream.ts';
import { programProblem } from '../providers/command/program.ts';

export interface ContainerReport {
  problems: string[];
  warnings: string[];
  /** Containers whose restart policy restartPolicy: manage is to set to "no". */
  manage: ContainerInfo[];
}

export async function containerProblems(provider: Provider, s: ServiceConfig, signal?: AbortSignal, env: Readonly<Record<string, string | undefined>> = process.env): Promise<string[]> {
  return (await containerReport(provider, s, signal, env)).problems;
}

/** Inspects the service's container (and a group's members); for a command service, checks its programs first. Never rejects. */
export async function containerReport(provider: Provider, s: ServiceConfig, signal?: AbortSignal, env: Readonly<Record<string, string | undefined>> = process.env): Promise<ContainerReport> {
  const report: ContainerReport = { problems: [], warnings: [], manage: [] };
  if (s.command !== undefined) {
    // A command service: its programs must be there (status: is also run, by the inspection).
    const argvs = s.command.kind === 'run' ? [s.command.run] : [s.command.start, s.command.stop, s.command.status];
    const missing = argvs.map((argv) => programProblem(argv, env)).filter((p) => p !== undefined);
    if (missing.length > 0) {
      report.problems.push(...new Set(missing));
      return report;
    }
  }
  let info;
  try {
    info = await provider.inspect(s.container, signal);
  } catch (err) {
    report.problems.push(describe(err));
    return report;
  }
  const { problems } = report;
  const ready = checkReadySpec(s.ready, info);
  if (ready !== undefined) problems.push(ready);
  const port = portProblem(s, info);
  if (port !== undefined) problems.push(port);
  if (info.networkMode === 'none' && s.upstream === undefined) {
    problems.push(`container "${s.container}" has network mode "none": portwake cannot reach it; set upstream:`);
  }
  const infos = [info];
  for (const m of s.members ?? []) {
    try {
      infos.push(await provider.inspect(m, signal));
    } catch (err) {
      problems.push(`group member: ${describe(err)}`);
    }
  }
  for (const i of infos) {
    if (!fightsIdleStop(i.restartPolicy)) continue;
    if (s.restartPolicy === 'manage') report.manage.push(i);
    else report.warnings.push(restartPolicyWarning(i));
  }
  return report;
}
