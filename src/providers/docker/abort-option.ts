// dockerode's per-call cancellation option, present only when there is a signal (an undefined
// value would otherwise end up in the query string).

export function abortOption(signal: AbortSignal | undefined): { abortSignal?: AbortSignal } {
  return signal === undefined ? {} : { abortSignal: signal };
}
