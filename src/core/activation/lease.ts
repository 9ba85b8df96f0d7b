// A lease on a ready service: what one forwarded connection holds (core/backend.ts's Lease).

import type { Lease, RevokeHow } from '../backend.ts';
import type { Endpoint } from '../provider.ts';

export class ServiceLease implements Lease {
  bytesIn = 0;
  bytesOut = 0;
  revoked = false;
  onRevoke: ((how: RevokeHow) => void) | undefined = undefined;
  private released = false;
  constructor(
    readonly upstream: Endpoint,
    private readonly owner: { releaseLease(lease: ServiceLease): void },
  ) {}
  release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.releaseLease(this);
  }
  revoke(how: RevokeHow = 'gone'): void {
    if (this.revoked || this.released) return;
    this.revoked = true;
    this.onRevoke?.(how);
  }
}
