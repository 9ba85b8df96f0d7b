// What the numbers were measured on: cores, CPU model, load, kernel, and the versions of every
// program in the comparison.

import { spawnSync } from 'node:child_process';
import os from 'node:os';
import type { Engine } from '../../test/support/engine.ts';

export interface Machine {
  cores: number;
  model: string;
  memoryGiB: number;
  kernel: string;
  /** 1/5/15-minute load averages when the run started and when it ended. */
  loadStart: number[];
  loadEnd: number[];
  node: string;
  docker: string;
  nginx: string;
  systemd: string;
  wrk: string;
}

function firstLine(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 5_000 });
  return `${r.stdout}${r.stderr}`.trim().split('\n')[0] ?? 'unknown';
}

export async function describeMachine(engine: Engine): Promise<Machine> {
  const cpus = os.cpus();
  const version = (await engine.docker.version()) as { Version?: string; ApiVersion?: string };
  return {
    cores: cpus.length,
    model: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    loadStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    loadEnd: [],
    node: process.version,
    docker: `${version.Version ?? '?'} (API ${version.ApiVersion ?? '?'})`,
    nginx: firstLine('/usr/sbin/nginx', ['-v']).replace(/^nginx version: /, ''),
    systemd: firstLine('/lib/systemd/systemd-socket-proxyd', ['--version']),
    wrk: firstLine('wrk', ['-v']).split(' [')[0] ?? 'unknown',
  };
}
