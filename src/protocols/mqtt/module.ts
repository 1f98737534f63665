import { connackFor, connackForKick, disconnectFor } from './mqtt-reasons'
import { DISCONNECT_REASON_CODES_V5, encodeDisconnect } from './connack'
import type { ProtocolModule } from '../../proxy/lifecycle/protocol'
import { Chain } from '../../proxy/lifecycle/chain'
import { canAnswer, clientOf, type AnyPhase, type Identified, type Secured } from '../../proxy/lifecycle/context'
import { ClientGone } from '../../proxy/read-client'
import type { ConnectInfo } from './connect-decoder'
import type { MqttHello } from './phases'
import { MqttPacketBoundary } from './packet-boundary'
import { readConnect } from './read-connect'
import { clientCertificate } from './stages/client-certificate'
import { deviceCertificate } from './stages/device-certificate'
import { mqttConnect, speaker } from './stages/connect'
import { mqttForward } from './stages/forward'
import { mqttAuthorizeConnect } from './stages/authorize-connect'
import { mqttSessionFilters } from './authorization/filters'

/**
 * MQTT 3.1, 3.1.1 and 5.0 devices (DESIGN §2): identified by a client certificate chaining to a
 * CA registered on the instance, then by their CONNECT, which goes on to the broker byte for byte
 * (or with credentials replaced). Refusals are a CONNACK in the client's version; kicks of MQTT 5
 * sessions a DISCONNECT written between two packets of the broker's stream.
 */
export const mqttProtocol: ProtocolModule<MqttHello> = {
  name: 'mqtt',
  requestClientCertificate: true,

  // A device without SNI has nothing else to go by: a gateway with a single MQTT instance serves it.
  instanceWithoutSni: (instances) => (instances.length === 1 ? instances[0] : undefined),

  identify: Chain.start<Secured>()
    .then('client-certificate', 'mqtt-chain-verified', clientCertificate)
    .then('device-certificate', 'mqtt-device-known', deviceCertificate)
    .then('mqtt-connect', 'identified', mqttConnect)
    .then('mqtt-authorize-connect', 'identified', mqttAuthorizeConnect),

  forward: Chain.start<Parameters<typeof mqttForward>[0]>()
    .then('mqtt-forward', 'ready', mqttForward),

  embeddedBackend: (instance, deps) => deps.embeddedBrokers.addressFor(instance.id),

  async refusal(ctx, reason, deps) {
    const connect = helloOf(ctx)?.connect
    if (connect !== undefined) return { reply: connackFor(connect.protocolVersion, reason, reason, connect.maximumPacketSize) }
    // A refusal decided before the CONNECT arrived (a certificate problem, a stale store) is still
    // answered with a CONNACK in the client's protocol version [MQTT-3.2.2-6]: read the CONNECT
    // first, within what is left of the deadline.
    if (!canAnswer(ctx) || reason === 'HANDSHAKE_TIMEOUT' || reason === 'PROTOCOL_ERROR' || reason === 'ILLEGAL_STATE') return {}
    try {
      const read = await readConnect(clientOf(ctx), ctx.signal, deps.config.limits.maxConnectBytes)
      if (read.kind === 'error') return read.protocolVersion === undefined ? {} : { reply: connackFor(read.protocolVersion, reason, reason) }
      return { reply: connackFor(read.packet.protocolVersion, reason, reason, read.packet.maximumPacketSize), actor: speaker(read.packet) }
    } catch (err) {
      if (err instanceof ClientGone) return {}
      throw err
    }
  },

  stageError: () => undefined,

  session(ctx) {
    const version = ctx.hello.connect.protocolVersion
    // MQTT 5 §3.1.2.11.4: the server must not send a packet larger than the client's maximum.
    const maxSize = ctx.hello.connect.maximumPacketSize
    return {
      // Before the broker's CONNACK the session is still being accepted: a DISCONNECT would break
      // [MQTT-3.14.0-1], so the kick is a refusing CONNACK instead (3.1.1 clients get one too).
      farewell: (reason, brokerSpoke) => (brokerSpoke ? disconnectFor(version, reason, reason, maxSize) : connackForKick(version, reason, maxSize)),
      // The broker went away: MQTT 5 DISCONNECT 0x80 "Unspecified error" naming BACKEND_UNAVAILABLE
      // (§3.14.2.1), or before its CONNACK the refusing CONNACK 0x88 / 0x03 server unavailable.
      backendLost: (brokerSpoke) => (brokerSpoke
        ? encodeDisconnect(version, DISCONNECT_REASON_CODES_V5.UNSPECIFIED_ERROR, 'BACKEND_UNAVAILABLE', maxSize)
        : connackFor(version, 'BACKEND_UNAVAILABLE', 'BACKEND_UNAVAILABLE', maxSize)),
      // MQTT 3.x has no server DISCONNECT, so its sessions need no tracking at all.
      ...(version === 5 ? { boundary: new MqttPacketBoundary() } : {}),
    }
  },

  enforce: (ctx, io) => mqttSessionFilters({ version: ctx.hello.connect.protocolVersion, ...maximumPacketSizeOption(ctx.hello.connect), io }),
}

function maximumPacketSizeOption(connect: ConnectInfo): { clientMaximumPacketSize?: number } {
  const value = connect.maximumPacketSize
  return value === undefined ? {} : { clientMaximumPacketSize: value }
}


function helloOf(ctx: AnyPhase): MqttHello | undefined {
  return (ctx as Partial<Identified<MqttHello>>).hello
}
