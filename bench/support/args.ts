// `npm run bench -- [--only cold,bulk] [--quick] [--ref REF] [--profile] [--out DIR]` → options.

export const WORKLOAD_NAMES = ['cold', 'late', 'bulk', 'rate', 'herd', 'scale', 'pause'] as const;
export type WorkloadName = (typeof WORKLOAD_NAMES)[number];

export interface BenchArgs {
  only: readonly WorkloadName[];
  /** Fewer rounds, smaller transfers, shorter loads: for development, not for the committed results. */
  quick: boolean;
  /** Build portwake from this git ref instead of the working tree (e.g. HEAD while src/ is mid-edit). */
  ref: string | undefined;
  /** Run portwake under `node --cpu-prof` and summarise where its time went (slower; not comparable). */
  profile: boolean;
  /** Where the JSON, Markdown and SVG go; default bench/results/ for a full run, else a *.tmp dir. */
  out: string | undefined;
}

export const USAGE = `usage: npm run bench -- [--only ${WORKLOAD_NAMES.join(',')}] [--quick] [--ref GIT-REF] [--profile] [--out DIR]`;

export function parseArgs(argv: readonly string[]): BenchArgs {
  const args: BenchArgs = { only: WORKLOAD_NAMES, quick: false, ref: undefined, profile: false, out: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined || v === '') throw new Error(`${a} needs a value\n${USAGE}`);
      return v;
    };
    const flag = a.split('=')[0];
    if (flag === '--quick') args.quick = true;
    else if (flag === '--profile') args.profile = true;
    else if (flag === '--ref') args.ref = value();
    else if (flag === '--out') args.out = value();
    else if (flag === '--only') {
      const names = value().split(',').map((s) => s.trim()).filter((s) => s !== '');
      const unknown = names.filter((n) => !(WORKLOAD_NAMES as readonly string[]).includes(n));
      if (unknown.length > 0) throw new Error(`--only: unknown workload ${unknown.join(', ')} (known: ${WORKLOAD_NAMES.join(', ')})`);
      args.only = WORKLOAD_NAMES.filter((n) => names.includes(n));
    } else if (flag === '--help' || flag === '-h') throw new Error(USAGE);
    else throw new Error(`unknown argument ${a}\n${USAGE}`);
  }
  return args;
}
