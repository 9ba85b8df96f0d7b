// What `portwake run` checks once it listens — what `portwake check` checks: the engine answers,
// every service's container exists, its ready: and port: fit the container. Each problem is one
// warning naming the service; nothing is refused (the container may be created later, and the
// service's connections then work), so a daemon with one broken service still serves the others.

import type { ServiceConfig } from '../config/types.ts';
import { describe } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Provider } from '../core/provider.ts';
import { RestartPolicyManager } from '../core/activation/restart-policy.ts';
import { containerReport } from './check-container.ts';

/** Inspects in flight at once: 1,000 services must not become 1,000 concurrent engine requests. */
export const STARTUP_CHECK_CONCURRENCY = 4;

/**
 * Pings each engine (each service's provider: one, or one per service), then inspects every
 * service's container; logs one warning per service with a problem (or one for an engine that does
 * not answer, whose services are then not inspected), then one line with the counts. Never
 * rejects; stops early when signal aborts.
 */
export async function startupCheck(all: readonly ServiceConfig[], providers: Provider | ((s: ServiceConfig) => Provider), logger: Logger, signal: AbortSignal): Promise<void> {
  const providerOf = typeof providers === 'function' ? providers : (): Provider => providers;
  const engines = new Map<Provider, ServiceConfig[]>();
  for (const s of all) {
    const p = providerOf(s);
    engines.set(p, [...(engines.get(p) ?? []), s]);
  }
  const services: ServiceConfig[] = [];
  for (const [provider, theirs] of engines) {
    try {
      await provider.ping(signal);
      services.push(...theirs);
    } catch (err) {
      if (signal.aborted) return;
      const why = describe(err);
      logger.warn({ engine: provider.endpoint, err: why },
        `start-up check: ${why.includes(provider.endpoint) ? why : `engine ${provider.endpoint}: ${why}`}; serving anyway, each first connection will try to start its container`);
    }
  }
  if (services.length === 0) return;
  let next = 0;
  let bad = 0;
  const worker = async (): Promise<void> => {
    for (let s = services[next++]; s !== undefined && !signal.aborted; s = services[next++]) {
      const provider = providerOf(s);
      const { problems, warnings, manage } = await containerReport(provider, s, signal);
      if (signal.aborted) continue;
      for (const w of warnings) logger.warn({ service: s.name, container: s.container }, `start-up check: service "${s.name}": ${w}`);
      // restartPolicy: manage — set now, before an engine restart could bring the container back.
      const policies = new RestartPolicyManager(provider, logger, s.name);
      for (const i of manage) await policies.manage(i, signal);
      if (problems.length === 0) continue;
      bad++;
      logger.warn({ service: s.name, container: s.container },
        `start-up check: service "${s.name}": ${problems.join('; ')}; serving anyway, its connections fail until this is fixed`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(STARTUP_CHECK_CONCURRENCY, services.length) }, worker));
  if (!signal.aborted) logger.info({ ok: services.length - bad, problems: bad }, `start-up check: ${services.length - bad} service(s) ok, ${bad} with problems`);
}
