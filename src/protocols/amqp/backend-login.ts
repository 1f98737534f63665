import type { Socket } from 'node:net'
import { PROTOCOL_HEADER } from './frame-codec'
import { encodeMethodFrame, type Tune } from './methods'
import type { FieldTable } from './field-table'
import { HandshakeFrames } from './handshake-frames'
import { amqpClose } from './close-frame'
import { reject, type Rejection } from '../../proxy/verdict'
import type { BackendSpec } from '../../store/records'

/** A backend connection logged in and waiting at the broker's Connection.Tune. */
export interface TunedBackend {
  readonly kind: 'tuned'
  readonly tune: Tune
  /** The broker's frames from here on (Open-Ok comes through the splice; this holds what came with Tune). */
  readonly frames: HandshakeFrames
}

/**
 * The gateway's own login to RabbitMQ, AMQP 0-9-1 §2.2.4 up to Tune: protocol header, Start,
 * Start-Ok with the instance's backend credentials (PLAIN), Tune. What comes after — Tune-Ok and
 * Open — is the client's to decide (its frame-max, heartbeat and vhost), so the login stops here;
 * the cold path (stages/backend.ts) runs it for its client, the warm pool (backend-pool/) before
 * any client exists. Throws what HandshakeFrames throws (AmqpHandshakeError, ClientGone); a
 * broker that answers out of turn or refuses the credentials is a BACKEND_UNAVAILABLE refusal.
 */
export async function loginToBackend(
  upstream: Socket, signal: AbortSignal, backend: Pick<BackendSpec, 'username' | 'password'>,
  clientProperties: FieldTable, maxFrameBytes: number,
): Promise<TunedBackend | Rejection> {
  const frames = new HandshakeFrames(upstream, signal, 'backend', maxFrameBytes)
  upstream.write(PROTOCOL_HEADER)
  const start = await frames.next()
  if (start.name !== 'connection.start') return reject('BACKEND_UNAVAILABLE', `backend sent ${start.name} instead of connection.start`)
  if (!start.mechanisms.split(' ').includes('PLAIN')) return reject('BACKEND_UNAVAILABLE', 'backend does not offer PLAIN')
  upstream.write(encodeMethodFrame({
    name: 'connection.start-ok',
    clientProperties,
    mechanism: 'PLAIN',
    response: Buffer.from(`\u0000${backend.username ?? ''}\u0000${backend.password ?? ''}`, 'utf8'),
    locale: 'en_US',
  }))
  const tune = await frames.next()
  if (tune.name === 'connection.close') {
    return reject('BACKEND_UNAVAILABLE', `backend refused the gateway: ${tune.replyCode} ${tune.replyText}`, amqpClose(320, 'CONNECTION_FORCED - BACKEND_UNAVAILABLE'))
  }
  if (tune.name !== 'connection.tune') return reject('BACKEND_UNAVAILABLE', `backend sent ${tune.name} instead of connection.tune`)
  return { kind: 'tuned', tune: { channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: tune.heartbeat }, frames }
}
