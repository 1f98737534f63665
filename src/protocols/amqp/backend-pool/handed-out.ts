import type { Socket } from 'node:net'
import type { TunedBackend } from '../backend-login'

/** What a pooled connection brings to the client it is handed to: its login, and its name on the broker. */
export interface WarmHandshake {
  readonly tuned: TunedBackend
  /** The `portcullis.pool_connection_id` its Start-Ok announced (pooled-properties.ts). */
  readonly poolConnectionId: string
}

/**
 * The pool hands the upstream stage a socket (all that `Connected` holds); the AMQP backend stage
 * then claims, for that socket, where its handshake stands. Keyed by the socket object and
 * claimed once, so a socket the pool did not hand out has no entry and runs the cold login.
 */
const handedOut = new WeakMap<Socket, WarmHandshake>()

export function handOut(socket: Socket, handshake: WarmHandshake): void {
  handedOut.set(socket, handshake)
}

export function claimWarmHandshake(socket: Socket): WarmHandshake | undefined {
  const handshake = handedOut.get(socket)
  if (handshake !== undefined) handedOut.delete(socket)
  return handshake
}
