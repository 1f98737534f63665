import { encodeConnect } from '../connect-encoder'
import type { Connected, Ready } from '../../../proxy/lifecycle/context'
import { next, reject, type Step } from '../../../proxy/verdict'
import type { MqttHello } from '../phases'

/**
 * Prepares what goes upstream before the splice: the client's CONNECT — byte for byte, unless the
 * instance replaces the credentials with its backend's or sets the username to the certificate
 * identity (DESIGN §2) — followed by whatever the client pipelined after it.
 */
export function mqttForward(ctx: Connected<MqttHello>): Step<Ready<MqttHello>> {
  const { hello, instance } = ctx
  const { options, backend } = instance
  const overrides: { username?: string | null; password?: Buffer | null } = {}
  if (options.replaceBackendCredentials) {
    overrides.username = backend.username ?? null
    overrides.password = backend.password === undefined ? null : Buffer.from(backend.password, 'utf8')
  }
  if (options.usernameFromCertificate) {
    const cn = hello.device.commonName
    if (cn !== undefined) overrides.username = cn
  }
  let connect = hello.raw
  if (Object.keys(overrides).length > 0) {
    // Only a rewrite needs mqtt-packet's decoding, cross-checked against the walk (connect-decoder.ts).
    const packet = hello.connect.mqttPacket()
    if (typeof packet === 'string') return reject('PROTOCOL_ERROR', `CONNECT cannot be rewritten: ${packet}`)
    try {
      connect = encodeConnect(packet, overrides)
    } catch (err) {
      // e.g. a 3.1.1 CONNECT left with a password but no username by the instance's backend
      // credentials: the gateway cannot speak for this client, so it refuses rather than guess.
      return reject('PROTOCOL_ERROR', `CONNECT cannot be rewritten: ${(err as Error).message}`)
    }
  }
  return next({
    ...ctx, phase: 'ready',
    upstreamPreamble: [connect],
    downstreamPreamble: [],
    clientPipelined: hello.rest.length > 0 ? [hello.rest] : [],
    brokerPipelined: [],
  })
}
