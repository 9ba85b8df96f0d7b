// The shape of bench/results/results.json: run metadata, each workload's result, the targets.

import type { WorkloadName } from '../support/args.ts';
import type { Machine } from '../support/machine.ts';
import type { BulkResult } from '../workloads/bulk.ts';
import type { ColdResult } from '../workloads/cold.ts';
import type { HerdResult } from '../workloads/herd.ts';
import type { LateResult } from '../workloads/late-listener.ts';
import type { RateResult } from '../workloads/rate.ts';
import type { ScaleResult } from '../workloads/scale.ts';
import type { TargetCheck } from './targets.ts';

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
  targets?: TargetCheck[];
}
