// Connection leases on a ready service: what one forwarded connection holds (core/backend.ts's
// Lease), and the book of one service's open leases — what they moved, when one last came or went,
// and the drain a stop waits for.

import type { Lease, RevokeHow } from '../backend.ts';
import type { Clock } from '../clock.ts';
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

/**
 * One service's open leases. `released(remaining)` is told after each release (the idle policy
 * counts it), before the waiters of drain() are let go when none is left.
 */
export class Leases {
  private readonly open = new Set<ServiceLease>();
  private closedBytesIn = 0;
  private closedBytesOut = 0;
  /** Waiters of drain(), called when the last lease is released. */
  private readonly drained: (() => void)[] = [];
  /** When a lease was last granted or released (epoch ms). */
  lastActivity: number | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly released: (remaining: number) => void,
  ) {}

  get size(): number {
    return this.open.size;
  }

  grant(upstream: Endpoint): ServiceLease {
    const l = new ServiceLease(upstream, this);
    this.open.add(l);
    this.lastActivity = this.clock.now();
    return l;
  }

  /** For ServiceLease.release() only (a method rather than a closure per lease). */
  releaseLease(l: ServiceLease): void {
    if (!this.open.delete(l)) return;
    this.closedBytesIn += l.bytesIn;
    this.closedBytesOut += l.bytesOut;
    this.lastActivity = this.clock.now();
    this.released(this.open.size);
    if (this.open.size > 0) return;
    for (const finish of this.drained.splice(0)) finish();
  }

  /** Closes every open connection ('gone': their upstream is gone; 'idle': an orderly close). */
  revokeAll(how?: RevokeHow): void {
    for (const l of [...this.open]) l.revoke(how);
  }

  /** Bytes moved by every connection so far, open and closed (natively forwarded ones: within a second). */
  bytes(): { bytesIn: number; bytesOut: number } {
    let bytesIn = this.closedBytesIn;
    let bytesOut = this.closedBytesOut;
    for (const l of this.open) {
      bytesIn += l.bytesIn;
      bytesOut += l.bytesOut;
    }
    return { bytesIn, bytesOut };
  }

  /** Resolves when no lease is open, or after timeoutMs. */
  drain(timeoutMs: number): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(timeoutMs, finish);
      this.drained.push(finish);
      function finish(): void {
        timer.cancel();
        resolve();
      }
    });
  }
}
