// A Logger whose children are made when they first log: a service's activation and frontend each
// take a child logger at construction, and most never write a line (a pino child costs ~200 bytes
// of heap; 1,000 services, 2,000 children).

import type { Logger } from '../core/logger.ts';

/** Forwards to `parent`; child() returns a LazyChild. */
export function lazyChildren(parent: Logger): Logger {
  return {
    debug: (obj, msg) => parent.debug(obj, msg),
    info: (obj, msg) => parent.info(obj, msg),
    warn: (obj, msg) => parent.warn(obj, msg),
    error: (obj, msg) => parent.error(obj, msg),
    child: (bindings) => new LazyChild(parent, bindings),
    isLevelEnabled: (level) => parent.isLevelEnabled?.(level) ?? true,
  };
}

class LazyChild implements Logger {
  readonly #parent: Logger;
  readonly #bindings: Record<string, unknown>;
  #made: Logger | undefined;

  constructor(parent: Logger, bindings: Record<string, unknown>) {
    this.#parent = parent;
    this.#bindings = bindings;
  }

  #logger(): Logger {
    if (this.#made === undefined) {
      // A nested lazy child is made from its parent's real logger, not from another lazy child.
      const parent = this.#parent instanceof LazyChild ? this.#parent.#logger() : this.#parent;
      this.#made = parent.child(this.#bindings);
    }
    return this.#made;
  }

  debug(obj: object, msg: string): void { this.#logger().debug(obj, msg); }
  info(obj: object, msg: string): void { this.#logger().info(obj, msg); }
  warn(obj: object, msg: string): void { this.#logger().warn(obj, msg); }
  error(obj: object, msg: string): void { this.#logger().error(obj, msg); }
  child(bindings: Record<string, unknown>): Logger { return new LazyChild(this, bindings); }
  // The level is the parent's (children get bindings only): asking does not make the child.
  isLevelEnabled(level: 'debug'): boolean { return this.#parent.isLevelEnabled?.(level) ?? true; }
}
