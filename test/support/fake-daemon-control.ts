// A scripted DaemonControl for the control API, CLI and dashboard tests: services are plain objects
// the test edits, emit() pushes an event to every subscriber, calls are recorded.

import { PortwakeError } from '../../src/core/errors.ts';
import type { DaemonControl, DaemonEvent, ReloadResult, ServiceStatus } from '../../src/core/status.ts';

export function service(name: string, overrides: Partial<ServiceStatus> = {}): ServiceStatus {
  return {
    name,
    container: `${name}-container`,
    state: 'stopped',
    lastError: undefined,
    lastErrorCode: undefined,
    listeners: [`127.0.0.1:${8000 + name.length}`],
    openConnections: 0,
    heldConnections: 0,
    bytesIn: 0,
    bytesOut: 0,
    lastActivity: undefined,
    lastStart: undefined,
    idleDeadline: undefined,
    ...overrides,
  };
}

export class FakeDaemonControl implements DaemonControl {
  services: ServiceStatus[];
  readonly calls: string[] = [];
  readonly listeners = new Set<(event: DaemonEvent) => void>();
  /** What start()/stop()/reload() do; default: succeed, and start/stop flip the state. */
  startImpl: (name: string) => Promise<void> = async (name) => this.setState(name, 'ready');
  stopImpl: (name: string) => Promise<void> = async (name) => this.setState(name, 'stopped');
  reloadImpl: () => Promise<ReloadResult> = async () => ({ added: [], removed: [], changed: [] });

  constructor(services: ServiceStatus[] = [service('web'), service('db')]) {
    this.services = services;
  }

  status(): ServiceStatus[] {
    return this.services.map((s) => ({ ...s }));
  }

  start(name: string): Promise<void> {
    this.calls.push(`start ${name}`);
    return this.startImpl(name);
  }

  stop(name: string): Promise<void> {
    this.calls.push(`stop ${name}`);
    return this.stopImpl(name);
  }

  reload(): Promise<ReloadResult> {
    this.calls.push('reload');
    return this.reloadImpl();
  }

  subscribe(fn: (event: DaemonEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(event: DaemonEvent): void {
    for (const fn of [...this.listeners]) fn(event);
  }

  /** Changes a service's state and emits the matching `state` event. */
  setState(name: string, to: ServiceStatus['state'], at = Date.now()): void {
    const s = this.get(name);
    const from = s.state;
    s.state = to;
    this.emit({ type: 'state', service: name, from, to, at });
  }

  get(name: string): ServiceStatus {
    const s = this.services.find((x) => x.name === name);
    if (s === undefined) throw new PortwakeError('USAGE', `fake: no service ${name}`);
    return s;
  }
}
