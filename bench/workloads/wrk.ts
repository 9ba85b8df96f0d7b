// Runs Debian's wrk (bounded by its own -d and a kill timer) and reads its report: requests/s,
// latency percentiles (--latency), socket errors and non-2xx responses.

import { execFile } from 'node:child_process';

export interface WrkRun {
  requests: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors (connect/read/write/timeout) plus non-2xx/3xx responses. */
  errors: number;
}

export interface WrkOptions {
  url: string;
  threads: number;
  connections: number;
  seconds: number;
  /** A new connection per request (`Connection: close`), else keep-alive. */
  close: boolean;
  /** A wrk Lua script (e.g. one pacing the requests). */
  script?: string | undefined;
}

export function runWrk(o: WrkOptions): Promise<WrkRun> {
  const args = [`-t${o.threads}`, `-c${o.connections}`, `-d${o.seconds}s`, '--latency', '--timeout', '5s', ...(o.close ? ['-H', 'Connection: close'] : []), ...(o.script === undefined ? [] : ['-s', o.script]), o.url];
  return new Promise((resolve, reject) => {
    execFile('wrk', args, { timeout: (o.seconds + 20) * 1000, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err !== null) {
        reject(new Error(`wrk ${args.join(' ')} failed: ${err.message}\n${stdout}${stderr}`));
        return;
      }
      try {
        resolve(parseWrk(stdout));
      } catch (e) {
        reject(new Error(`cannot read wrk's report (${e instanceof Error ? e.message : String(e)}):\n${stdout}`));
      }
    });
  });
}

export function parseWrk(text: string): WrkRun {
  const num = (re: RegExp): number => {
    const m = re.exec(text);
    if (m === null) throw new Error(`no match for ${re}`);
    return Number(m[1]);
  };
  const latency = (pct: string): number => {
    const m = new RegExp(`^\\s+${pct}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
    if (m === null) throw new Error(`no ${pct}% latency`);
    const v = Number(m[1]);
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
  };
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const errors = (socketErrors === null ? 0 : socketErrors.slice(1).reduce((a, b) => a + Number(b), 0)) + (non2xx === null ? 0 : Number(non2xx[1]));
  return {
    requests: num(/^\s*(\d+) requests in/m),
    rps: num(/^Requests\/sec:\s+([\d.]+)/m),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    errors,
  };
}
