// The shape of bench/results/results.json: run metadata, each workload's result, the targets.

import type { WorkloadName } from '../support/args.ts';
import type { Machine } from '../support/machine.ts';
import type { BulkResult } from '../workloads/bulk.ts';
import type { ColdResult } from '../workloads/cold.ts';
import type { HerdResult } from '../workloads/herd.ts';
import type { LateResult } from '../workloads/late-listener.ts';
import type { RateResult } from '../workloads/rate.ts';
import type { PauseResult } from '../workloads/pause.ts';
import type { ScaleResult } from '../workloads/scale.ts';

export interface BenchResults {
  meta: {
    date: string;
    quick: boolean;
    profiled: boolean;
    only: WorkloadName[];
    portwake: { source: string; commit: string; dirtySrc: boolean; splice: boolean };
    machine: Machine;
    durationS: number;
  };
  /** Workloads that failed or ran out of time, with why. */
  errors: Partial<Record<WorkloadName, string>>;
  cold?: ColdResult;
  late?: LateResult;
  bulk?: BulkResult;
  rate?: RateResult;
  herd?: HerdResult;
  scale?: ScaleResult;
  pause?: PauseResult;
  targets?: TargetCheck[];
}

/** One target checked against a run (targets.ts): PASS, MISS, or not measured. */
export interface TargetCheck {
  id: string;
  /** What is required, e.g. "cold-start overhead ≤ 5 ms (median)". */
  goal: string;
  /** What was measured, with units and context. */
  measured: string;
  /** The measured/limit ratio the goal is stated in (e.g. 1.07x proxyd), when there is one. */
  ratio: string | undefined;
  /** undefined: not measured in this run. */
  pass: boolean | undefined;
}
