// dependsOn: the dependencies a service holds while it starts and runs. The daemon's hook
// (DependenciesHook) counts the holders per dependency and starts them; this holds one service's
// hold, taken before its own container starts and let go of once it is down.

import type { DependenciesHook } from './types.ts';

export class HeldDependencies {
  private release: (() => void) | undefined;

  constructor(private readonly hook: DependenciesHook | undefined) {}

  /**
   * Waits until every dependency in `needs` is ready and holds them (an earlier hold is let go of
   * then). Returns false when there is nothing to wait for (no dependsOn, or no hook wired).
   */
  async acquire(needs: readonly string[] | undefined, signal: AbortSignal): Promise<boolean> {
    if (this.hook === undefined || needs === undefined || needs.length === 0) return false;
    const release = await this.hook(needs, signal);
    this.letGo();
    this.release = release;
    return true;
  }

  /** The service is down (stopped, or its start failed): its dependencies may idle out. */
  letGo(): void {
    const release = this.release;
    this.release = undefined;
    release?.();
  }
}
