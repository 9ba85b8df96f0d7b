// The one-line STATUS= text systemctl shows: "3 services, 1 running, 0 starting".

import type { ServiceStatus } from '../core/status.ts';

/** Counts by state; "paused", "failed" and "stopping" appear only when non-zero. */
export function formatStatusLine(services: readonly Pick<ServiceStatus, 'state'>[]): string {
  const count = (state: ServiceStatus['state']): number => services.filter((s) => s.state === state).length;
  const parts = [
    `${services.length} ${services.length === 1 ? 'service' : 'services'}`,
    `${count('ready')} running`,
    `${count('starting')} starting`,
  ];
  const paused = count('paused');
  if (paused > 0) parts.push(`${paused} paused`);
  const stopping = count('stopping');
  if (stopping > 0) parts.push(`${stopping} stopping`);
  const failed = count('failed');
  if (failed > 0) parts.push(`${failed} failed`);
  return parts.join(', ');
}
