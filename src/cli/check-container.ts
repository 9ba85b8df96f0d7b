// What `portwake check` finds wrong with one service's container, as sentences.

import type { ServiceConfig } from '../config/types.ts';
import { describe } from '../core/errors.ts';
import type { Provider } from '../core/provider.ts';
import { checkReadySpec } from '../core/readiness.ts';
import { portProblem } from '../core/upstream.ts';
import { programProblem } from '../providers/command/program.ts';

export async function containerProblems(provider: Provider, s: ServiceConfig, signal?: AbortSignal, env: Readonly<Record<string, string | undefined>> = process.env): Promise<string[]> {
  if (s.command !== undefined) {
    // A command service: its programs must be there (status: is also run, by the inspection).
    const argvs = s.command.kind === 'run' ? [s.command.run] : [s.command.start, s.command.stop, s.command.status];
    const missing = argvs.map((argv) => programProblem(argv, env)).filter((p) => p !== undefined);
    if (missing.length > 0) return [...new Set(missing)];
  }
  let info;
  try {
    info = await provider.inspect(s.container, signal);
  } catch (err) {
    return [describe(err)];
  }
  const problems: string[] = [];
  const ready = checkReadySpec(s.ready, info);
  if (ready !== undefined) problems.push(ready);
  const port = portProblem(s, info);
  if (port !== undefined) problems.push(port);
  if (info.networkMode === 'none' && s.upstream === undefined) {
    problems.push(`container "${s.container}" has network mode "none": portwake cannot reach it; set upstream:`);
  }
  return problems;
}
