// Containers for development on a local engine (engine.ts): uniquely named and labelled for their
// Owner, created stopped (as portwake finds them) unless asked, ports published on 127.0.0.1 only.

import { randomBytes } from 'node:crypto';
import type { Engine, Owner } from './engine.ts';

export interface ContainerOptions {
  image: string;
  cmd?: string[];
  /** A hint put into the generated name (<prefix>-<hint>-<pid>-<random>). */
  nameHint?: string;
  /** Container ports published on 127.0.0.1; hostPort 0 or absent lets the engine pick. */
  publish?: { containerPort: number; hostPort?: number }[];
  /** Extra exposed TCP ports (published ones are exposed automatically). */
  expose?: number[];
  healthcheck?: { test: string[]; intervalMs?: number; timeoutMs?: number; retries?: number; startPeriodMs?: number };
  env?: string[];
  labels?: Record<string, string>;
  /** 'bridge' (default), 'host', 'none', 'container:<id>' or a network name. */
  networkMode?: string;
  stopSignal?: string;
  /** Start it right away (default: leave it created and stopped, as portwake finds containers). */
  start?: boolean;
  /** HostConfig.Ulimits (Podman's containers need some here: podman.ts's PODMAN_ULIMITS). */
  ulimits?: { Name: string; Soft: number; Hard: number }[];
}

export interface LocalContainer {
  name: string;
  id: string;
  /** Force-removes the container (and its anonymous volumes); a container already gone is fine. */
  remove(): Promise<void>;
}

/** Creates a uniquely named container labelled <owner.label>=1; the caller removes it. */
export async function createContainer(engine: Engine, opts: ContainerOptions, owner: Owner): Promise<LocalContainer> {
  const hint = opts.nameHint === undefined ? '' : `${opts.nameHint.replace(/[^a-zA-Z0-9_.-]/g, '-')}-`;
  const name = `${owner.containerPrefix}-${hint}${process.pid}-${randomBytes(4).toString('hex')}`;
  const exposed: Record<string, object> = {};
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const port of opts.expose ?? []) exposed[`${port}/tcp`] = {};
  for (const p of opts.publish ?? []) {
    exposed[`${p.containerPort}/tcp`] = {};
    bindings[`${p.containerPort}/tcp`] = [{ HostIp: '127.0.0.1', HostPort: p.hostPort === undefined || p.hostPort === 0 ? '' : String(p.hostPort) }];
  }
  const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : v * 1_000_000);
  const container = await engine.docker.createContainer({
    name,
    Image: opts.image,
    ...(opts.cmd === undefined ? {} : { Cmd: opts.cmd }),
    ...(opts.env === undefined ? {} : { Env: opts.env }),
    ...(opts.stopSignal === undefined ? {} : { StopSignal: opts.stopSignal }),
    Labels: { ...opts.labels, [owner.label]: '1' },
    ExposedPorts: exposed,
    ...(opts.healthcheck === undefined ? {} : {
      Healthcheck: {
        Test: opts.healthcheck.test,
        Interval: ms(opts.healthcheck.intervalMs ?? 500),
        Timeout: ms(opts.healthcheck.timeoutMs ?? 2000),
        Retries: opts.healthcheck.retries ?? 3,
        StartPeriod: ms(opts.healthcheck.startPeriodMs ?? 0),
      },
    }),
    HostConfig: {
      PortBindings: bindings,
      ...(opts.networkMode === undefined ? {} : { NetworkMode: opts.networkMode }),
      ...(opts.ulimits === undefined ? {} : { Ulimits: opts.ulimits }),
    },
  });
  const remove = async (): Promise<void> => {
    try {
      await container.remove({ force: true, v: true });
    } catch (err) {
      const code = (err as { statusCode?: number }).statusCode;
      if (code !== 404 && code !== 409) throw err; // 409: removal already in progress
    }
  };
  if (opts.start === true) {
    try {
      await container.start();
    } catch (err) {
      await remove();
      throw err;
    }
  }
  return { name, id: container.id, remove };
}
