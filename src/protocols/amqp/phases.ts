import type { Secured } from '../../proxy/lifecycle/context'
import type { AmqpSubject } from '../../auth/authenticate'
import type { FieldTable } from './field-table'
import type { HandshakeFrames } from './handshake-frames'

/**
 * AMQP's own phase between `secured` and `identified` (src/proxy/lifecycle/context.ts): the
 * gateway has sent Connection.Start — from here on every refusal is a Connection.Close — and
 * holds the client's Start-Ok credentials until they are checked.
 */
export interface Greeted extends Omit<Secured, 'phase'> {
  readonly phase: 'amqp-greeted'
  readonly frames: HandshakeFrames
  readonly clientProperties: FieldTable
  /** Dropped by the authentication stage, which is the only one that reads them. */
  readonly credentials: { readonly username: string; readonly password: string }
}

/** What AMQP carries from `identified` to `ready`. */
export interface AmqpHello {
  /** The client's handshake frames; what it pipelined after Open is drained into the splice. */
  readonly frames: HandshakeFrames
  readonly clientProperties: FieldTable
  readonly subject: AmqpSubject
  /** The frame-max both ends agreed in Tune/Tune-Ok (0 = none); set by the backend stage. */
  readonly frameMax?: number
}
