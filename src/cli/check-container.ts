// What `portwake check` finds wrong with one service's container, as sentences.

import type { ServiceConfig } from '../config/types.ts';
import { describe } from '../core/errors.ts';
import type { Provider } from '../core/provider.ts';
import { checkReadySpec } from '../core/readiness.ts';
import { portProblem } from '../core/upstream.ts';

export async function containerProblems(provider: Provider, s: ServiceConfig, signal?: AbortSignal): Promise<string[]> {
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
