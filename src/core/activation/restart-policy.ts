// restartPolicy: manage — a container whose restart policy would bring it back after an engine
// restart (always, unless-stopped) fights the idle stop; portwake sets its policy to "no".

import { describe } from '../errors.ts';
import type { Logger } from '../logger.ts';
import type { ContainerInfo, Provider } from '../provider.ts';

/** The policies under which the engine starts a container portwake stopped (after an engine restart). */
export function fightsIdleStop(policy: string | undefined): boolean {
  return policy === 'always' || policy === 'unless-stopped';
}

/** The warning for such a container when its service keeps the policy (`portwake run`, `portwake check`). */
export function restartPolicyWarning(info: Pick<ContainerInfo, 'name' | 'restartPolicy'>): string {
  return `container "${info.name}" has restart policy "${info.restartPolicy ?? ''}": the engine starts it again after it restarts, ` +
    'however long it has been idle; set restartPolicy: manage (portwake sets it to "no") or run "docker update --restart no ' + info.name + '"';
}

/**
 * Sets the policy of the containers it is shown to "no" when it would fight the idle stop; logs once
 * per container (by id). Never rejects: a failure is logged, and tried again at the next start.
 */
export class RestartPolicyManager {
  private readonly done = new Set<string>();
  constructor(private readonly provider: Provider, private readonly log: Logger, private readonly service: string) {}

  async manage(info: ContainerInfo, signal?: AbortSignal): Promise<void> {
    if (!fightsIdleStop(info.restartPolicy) || this.done.has(info.id)) return;
    this.done.add(info.id);
    if (this.provider.disableRestart === undefined) {
      this.log.warn({ container: info.name }, `service "${this.service}": restartPolicy: manage, but the provider for ${this.provider.endpoint} cannot change restart policies; ${restartPolicyWarning(info)}`);
      return;
    }
    try {
      await this.provider.disableRestart(info.id, signal);
      this.log.info({ container: info.name, was: info.restartPolicy }, `service "${this.service}": set the restart policy of container "${info.name}" from "${info.restartPolicy ?? ''}" to "no" (restartPolicy: manage)`);
    } catch (err) {
      this.done.delete(info.id);
      this.log.warn({ container: info.name, err: describe(err) }, `service "${this.service}": could not set the restart policy of container "${info.name}" to "no": ${describe(err)}; trying again at its next start`);
    }
  }
}
