import { encodeConnack } from '../connack'
import type { PipelineDeps } from '../../../proxy/deps'
import type { Identified } from '../../../proxy/lifecycle/context'
import { next, reject, type Step } from '../../../proxy/verdict'
import type { ClientIdentity } from '../../../proxy/session-registry'
import type { ConnectInfo } from '../connect-decoder'
import type { DeviceKnown, MqttHello } from '../phases'
import { readConnect } from '../read-connect'

/**
 * The CONNECT: the device is identified by its certificate (CA, device id) and by what it says
 * (clientId, username). A CONNECT that fails to decode is answered in the client's version with
 * the CONNACK the decoder names (0x01 unacceptable protocol level, 0x02 identifier rejected, MQTT 5
 * 0x95 packet too large…) [MQTT-3.2.2-6].
 */
export async function mqttConnect(ctx: DeviceKnown, deps: Pick<PipelineDeps, 'config'>): Promise<Step<Identified<MqttHello>>> {
  const result = await readConnect(ctx.client, ctx.signal, deps.config.limits.maxConnectBytes)
  if (result.kind === 'error') {
    const version = result.protocolVersion
    const reply = version === undefined ? undefined : encodeConnack(version, result.refusal, 'PROTOCOL_ERROR')
    return reject('PROTOCOL_ERROR', result.detail, reply, { deviceId: ctx.device.id })
  }
  const { peerChain: _chain, ca, device, ...rest } = ctx
  const connect = result.packet
  const identity: ClientIdentity = {
    caId: ca.id, deviceId: device.id, ...speaker(connect),
    ...(device.commonName !== undefined ? { certCommonName: device.commonName } : {}),
  }
  return next({
    ...rest, phase: 'identified', identity,
    actor: { deviceId: device.id, ...speaker(connect) },
    hello: { connect, raw: result.raw, rest: result.rest, device },
  })
}

/** What the client says it is, for the rules and the audit actor. */
export function speaker(connect: ConnectInfo): { clientId: string; username?: string } {
  return connect.username === undefined ? { clientId: connect.clientId } : { clientId: connect.clientId, username: connect.username }
}
