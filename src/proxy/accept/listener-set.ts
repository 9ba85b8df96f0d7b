// The listeners one frontend accepts on: bound together at start, changed one by one by a reload
// (bind more, detach some for another frontend to adopt), closed together at shutdown.

import type net from 'node:net';
import { PortwakeError } from '../../core/errors.ts';
import { listen, type BoundListener, type ListenOptions, type ListenTarget } from './listen.ts';

export class ListenerSet {
  readonly #bound: BoundListener[] = [];

  /** `options(text)`: how the owner accepts on the listener configured as `text`. */
  constructor(private readonly options: (text: string) => ListenOptions) {}

  /** The configured text of every bound listener. */
  get texts(): string[] {
    return this.#bound.map((l) => l.text);
  }

  /** The bound addresses, e.g. to read the port a `:0` listener got. */
  get addresses(): BoundListener['address'][] {
    return this.#bound.map((l) => l.address);
  }

  /** Node's servers of the listeners that Node accepts on (not the native ones). */
  get servers(): net.Server[] {
    return this.#bound.flatMap((l) => (l.server === undefined ? [] : [l.server]));
  }

  /** Whether each listener accepts in native code. */
  get native(): boolean[] {
    return this.#bound.map((l) => l.native);
  }

  /**
   * Binds each target in turn; each accepts as soon as it is bound. `stillWanted()` is asked after
   * each bind: false (the owner closed meanwhile) closes them all and throws LISTEN_FAILED. A
   * failed bind throws its PortwakeError('LISTEN_FAILED'); those bound before it stay, for the
   * owner's close to take down with the connections they accepted.
   */
  async bindEach(targets: readonly ListenTarget[], stillWanted: () => boolean): Promise<void> {
    for (const target of targets) {
      const options = this.options(target.text);
      this.#bound.push(await listen(target, options));
      if (!stillWanted()) {
        await this.closeAll();
        throw new PortwakeError('LISTEN_FAILED', `service "${options.service}": closed while binding ${target.text}`);
      }
    }
  }

  /**
   * Binds more addresses (a reload adding them); all or nothing: when one fails, those this call
   * bound are closed and the PortwakeError('LISTEN_FAILED') is thrown.
   */
  async bind(targets: readonly ListenTarget[]): Promise<BoundListener[]> {
    const bound: BoundListener[] = [];
    try {
      for (const target of targets) bound.push(await listen(target, this.options(target.text)));
    } catch (err) {
      await Promise.all(bound.map((l) => l.close()));
      throw err;
    }
    this.#bound.push(...bound);
    return bound;
  }

  /**
   * Gives up the listeners that match: they are no longer this set's to close, and keep accepting
   * into its owner until the caller closes them or another set adopt()s them.
   */
  detach(match: (listener: BoundListener) => boolean): BoundListener[] {
    const out = this.#bound.filter(match);
    for (const l of out) this.#bound.splice(this.#bound.indexOf(l), 1);
    return out;
  }

  /** Takes over listeners another set detach()ed: they accept into this set's owner from now on. */
  adopt(listeners: readonly BoundListener[]): void {
    for (const l of listeners) {
      l.retarget(this.options(l.text));
      this.#bound.push(l);
    }
  }

  /** Closes every listener (removing the socket files they created). */
  async closeAll(): Promise<void> {
    const listeners = this.#bound.splice(0);
    await Promise.all(listeners.map((l) => l.close()));
  }
}
