// The daemon's side of TLS SNI routing: which service's frontend takes a server name (the
// services' `hosts:`, else `tls.defaultService`), rebuilt lazily after start-up and each reload.

import { DEFAULT_TLS_PORT, type TlsConfig } from '../config/tls.ts';
import { HostTable } from '../proxy/frontends/host-table.ts';
import type { TlsTarget } from '../proxy/frontends/tls/router.ts';
import type { RunningService } from './service.ts';

export class TlsRoutes {
  #table: HostTable<TlsTarget> | undefined;
  #default: TlsTarget | undefined;

  constructor(
    private readonly units: () => ReadonlyMap<string, RunningService>,
    private readonly tls: () => TlsConfig | undefined,
  ) {}

  /** The services changed (a reload): the next lookup rebuilds the table. */
  invalidate(): void {
    this.#table = undefined;
  }

  /** The target for a ClientHello's server name (undefined: it had none); undefined: nobody. */
  route = (serverName: string | undefined): TlsTarget | undefined => {
    if (this.#table === undefined) this.#build();
    return (serverName === undefined ? undefined : this.#table?.lookup(serverName)) ?? this.#default;
  };

  #build(): void {
    const table = new HostTable<TlsTarget>();
    const targets = new Map<string, TlsTarget>();
    for (const unit of this.units().values()) {
      // The unit is looked up again per connection: a reload may replace it under the same name.
      const target: TlsTarget = { name: unit.config.name, admit: (socket, early) => unit.frontend.admit(socket, early, unit.config.tlsPort ?? DEFAULT_TLS_PORT) };
      targets.set(unit.config.name, target);
      // The config rules refuse a host claimed twice; were one to slip through, the first service keeps it.
      if (unit.config.hosts !== undefined) table.add(unit.config.hosts, target);
    }
    const fallback = this.tls()?.defaultService;
    this.#default = fallback === undefined ? undefined : targets.get(fallback);
    this.#table = table;
  }
}
