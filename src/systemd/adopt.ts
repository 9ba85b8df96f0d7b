// The rule shared by `portwake generate systemd` and the daemon it generates: each service's
// socket unit names its file descriptors after the service, and `portwake run|proxy
// --listen-from-systemd` takes them instead of binding the addresses in the config itself.

import type { ListenSpec, PortwakeConfig, ServiceConfig } from '../config/types.ts';
import { PortwakeError } from '../core/errors.ts';

/** The flag the generated ExecStart= passes; the daemon then applies adoptSystemdListeners(). */
export const LISTEN_FROM_SYSTEMD_FLAG = '--listen-from-systemd';

/** FileDescriptorName= of a service's sockets. */
export function fdNameFor(service: Pick<ServiceConfig, 'name'>): string {
  const name = service.name;
  // sd-daemon's fdname_is_valid(): at most 255 printable ASCII characters, no ':'.
  if (name === '' || name.length > 255 || !/^[\x21-\x7e]+$/.test(name) || name.includes(':')) {
    throw new PortwakeError('USAGE', `service "${name}": the name cannot be a FileDescriptorName= (printable ASCII without spaces or ':', at most 255 characters)`);
  }
  return name;
}

/**
 * The config with every TCP and Unix listener of a service replaced by one `systemd:SERVICE`
 * listener (the socket unit binds those addresses now). `listen: systemd…` entries stay as written.
 */
export function adoptSystemdListeners(config: PortwakeConfig): PortwakeConfig {
  return {
    ...config,
    services: config.services.map((s) => {
      const kept = s.listen.filter((l) => l.kind === 'systemd');
      if (kept.length === s.listen.length) return s;
      const name = fdNameFor(s);
      if (kept.some((l) => l.name === name)) return { ...s, listen: kept };
      const adopted: ListenSpec = { kind: 'systemd', name, text: `systemd:${name}` };
      return { ...s, listen: [adopted, ...kept] };
    }),
  };
}
