import type { ProtocolModule } from '../../proxy/lifecycle/protocol'
import { Chain } from '../../proxy/lifecycle/chain'
import type { AnyPhase, Connected, Secured } from '../../proxy/lifecycle/context'
import { reject } from '../../proxy/verdict'
import { REPLY_CODES } from './reply-codes'
import { AmqpFrameBoundary } from './frame-boundary'
import { amqpClose, closeFor } from './close-frame'
import { AmqpHandshakeError } from './handshake-frames'
import type { AmqpHello } from './phases'
import { amqpHello } from './stages/hello'
import { amqpAuthenticate } from './stages/authenticate'
import { amqpBackend } from './stages/backend'
import { amqpSessionFilters } from './authorization/filters'

/** Phases in which the gateway has sent Connection.Start, so that a refusal is a Connection.Close. */
const STARTED = new Set(['amqp-greeted', 'identified', 'admitted', 'connected', 'ready'])

/**
 * AMQP 0-9-1 clients of RabbitMQ (DESIGN §2): the gateway speaks the connection handshake itself
 * (header, Start, Start-Ok with AccessKey-derived PLAIN/AMQPLAIN credentials), then logs in to the
 * broker with the instance's own credentials and relays Tune and Open. Refusals after Start are a
 * Connection.Close (403 ACCESS_REFUSED or 320 CONNECTION_FORCED, close-frame.ts); kicks are a 320
 * Close naming the kick reason, written between two frames of the broker's stream.
 */
export const amqpProtocol: ProtocolModule<AmqpHello> = {
  name: 'amqp',
  requestClientCertificate: false,

  // Without SNI an AMQP client names its instance in its userName (the authenticate stage).
  instanceWithoutSni: () => undefined,

  identify: Chain.start<Secured>()
    .then('amqp-hello', 'amqp-greeted', amqpHello)
    .then('amqp-authenticate', 'identified', amqpAuthenticate),

  forward: Chain.start<Connected<AmqpHello>>()
    .then('amqp-backend', 'ready', amqpBackend),

  async refusal(ctx: AnyPhase, reason) {
    if (!STARTED.has(ctx.phase)) return {}
    const reply = closeFor(reason)
    return reply === undefined ? {} : { reply }
  },

  stageError(err) {
    if (!(err instanceof AmqpHandshakeError)) return undefined
    if (err.peer === 'backend') return reject('BACKEND_UNAVAILABLE', `backend: ${err.detail}`)
    return reject('PROTOCOL_ERROR', err.detail, amqpClose(err.replyCode, `${replyName(err.replyCode)} - ${err.detail}`))
  },

  session() {
    return {
      farewell: (reason) => amqpClose(REPLY_CODES.CONNECTION_FORCED, `CONNECTION_FORCED - ${reason}`),
      // AMQP 0-9-1 §1.2 connection-forced: the client may reconnect once the broker is back.
      backendLost: () => amqpClose(REPLY_CODES.CONNECTION_FORCED, 'CONNECTION_FORCED - BACKEND_UNAVAILABLE'),
      boundary: new AmqpFrameBoundary(),
    }
  },

  // frame-max 0 means "no limit" (§4.2.1): the inspect cap is then the only bound.
  enforce: (ctx, io) => amqpSessionFilters({ io, frameMax: ctx.hello.frameMax === undefined || ctx.hello.frameMax === 0 ? io.maxInspectBytes : ctx.hello.frameMax }),
}

function replyName(code: number): string {
  const entry = Object.entries(REPLY_CODES).find(([, value]) => value === code)
  return entry === undefined ? 'FRAME_ERROR' : entry[0]
}
