// The hand-over protocol: the only code that moves a client — a natively accepted descriptor or a
// net.Socket — from one owner to the next. A client has exactly one owner at a time
// (docs/connections.md draws it):
//
//   listener.c ─ClientFd→ frontend (admit: for the length of one call)
//   frontend   → held (HeldConnection) | connection (Connection) | native (NativeConnection) | closed
//   held       → connection                  (a lease arrived: HeldConnection.handOver())
//   connection → held                        (hand-back: the upstream never connected; once)
//   native     → held                        (the same, with the descriptor the addon returned)
//
// A Handoff<To> is made only here, names the owner it is for — a Handoff<'held'> does not compile
// where a Connection wants a Handoff<'connection'>, a plain number does not compile where a
// ClientFd is wanted — and is taken exactly once: a second take() throws.

import type { Socket } from 'node:net';
import { adoptSocket, closeDescriptor } from './native.ts';

/**
 * A natively accepted client's descriptor: made only by listenNative() (an accept) and by the
 * addon's end report (a descriptor it gives back). Whoever holds one owns it and must pass it on
 * (forwardNative, adoptClient) or close it (closeClient).
 */
export type ClientFd = number & { readonly __clientFd: true };

/**
 * What a held client sent before its upstream existed. Whether it also half-closed is its socket's
 * `readableEnded` (the upstream then gets a FIN after the chunks).
 */
export interface EarlyData {
  chunks: Buffer[];
}

/** No early bytes: shared by every client that had none. */
export const NO_EARLY: EarlyData = { chunks: [] };

/** A client as a socket: paused, allowHalfOpen, no listeners of the previous owner left on it. */
export interface SocketClient {
  socket: Socket;
  /** Everything it sent so far that the previous owner read (nothing more was read from it). */
  early: EarlyData;
}

/** The owners a client can be handed to, and what each is given. */
interface Carried {
  held: SocketClient;
  connection: SocketClient;
  native: ClientFd;
}
export type Owner = keyof Carried;

/** One client on its way to its next owner, who takes it once. */
export class Handoff<To extends Owner> {
  /** Who this client is for; part of the type, so a hand-over to the wrong owner does not compile. */
  readonly to: To;
  #client: Carried[To] | undefined;

  private constructor(to: To, client: Carried[To]) {
    this.to = to;
    this.#client = client;
  }

  /** The next owner takes the client: from this call on, it is the only one that may touch it. */
  take(): Carried[To] {
    const client = this.#client;
    if (client === undefined) throw new Error(`a client handed to the ${this.to} owner was taken twice`);
    this.#client = undefined;
    return client;
  }

  /** To a HeldConnection: a client admitted to wait, or one handed back after its upstream failed. */
  static toHeld(socket: Socket, early: EarlyData = NO_EARLY): Handoff<'held'> {
    return new Handoff('held', { socket, early });
  }

  /** To a Connection: a client admitted with a lease, or a held one whose lease arrived. */
  static toConnection(socket: Socket, early: EarlyData = NO_EARLY): Handoff<'connection'> {
    return new Handoff('connection', { socket, early });
  }

  /** To a NativeConnection: a natively accepted client admitted with a lease. */
  static toNative(client: ClientFd): Handoff<'native'> {
    return new Handoff('native', client);
  }
}

/** Moves a natively accepted descriptor into a JavaScript socket (paused), which owns it from now on. */
export function adoptClient(client: ClientFd): Socket {
  return adoptSocket(client);
}

/** Closes a natively accepted descriptor nothing else owns (an orderly close: the peer sees a FIN). */
export function closeClient(client: ClientFd): void {
  closeDescriptor(client);
}
