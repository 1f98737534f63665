import { connackFor, disconnectFor } from '../../protocols/mqtt/mqtt-reasons'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import type { ProtocolAdapter } from './adapter'
import { mqttConnect } from '../stages/mqtt-connect'
import { ClientGone } from '../read-client'
import { MqttPacketBoundary } from '../frame-boundary'

export const mqttAdapter: ProtocolAdapter = {
  async refusalReply(conn, reason, deps) {
    // A refusal decided before the CONNECT arrived (a certificate problem) is still answered
    // with a CONNACK in the client's protocol version [MQTT-3.2.2-6]: read the CONNECT first,
    // within what is left of the deadline.
    if (conn.mqtt === undefined && conn.mqttVersionHint === undefined && reason !== 'HANDSHAKE_TIMEOUT' && reason !== 'PROTOCOL_ERROR') {
      try {
        await mqttConnect(conn, deps)
      } catch (err) {
        if (!(err instanceof ClientGone)) throw err
        return undefined
      }
    }
    const version = conn.mqtt?.connect.protocolVersion ?? conn.mqttVersionHint
    if (version === undefined) return undefined
    return connackFor(version, reason, reason, maximumPacketSize(conn))
  },

  farewell(conn) {
    const version = conn.mqtt?.connect.protocolVersion
    const maxSize = maximumPacketSize(conn)
    return (reason) => (version === undefined ? undefined : disconnectFor(version, reason, reason, maxSize))
  },

  frameBoundary(conn) {
    // MQTT 3.x has no server DISCONNECT, so its sessions need no tracking at all.
    return conn.mqtt?.connect.protocolVersion === 5 ? new MqttPacketBoundary() : undefined
  },

  identity(conn) {
    const out: ReturnType<ProtocolAdapter['identity']> = {}
    if (conn.ca !== undefined) out.caId = conn.ca.id
    if (conn.device !== undefined) out.deviceId = conn.device.id
    const connect = conn.mqtt?.connect
    if (connect !== undefined) {
      out.clientId = connect.clientId
      if (connect.username !== undefined) out.username = connect.username
    }
    if (conn.source.vpcId !== undefined) out.vpcId = conn.source.vpcId
    return out
  },

  actor(conn) {
    const out: Record<string, string> = {}
    if (conn.device !== undefined) out.deviceId = conn.device.id
    else if (conn.peerChain?.[0] !== undefined) out.certSubject = conn.peerChain[0].subject
    const connect = conn.mqtt?.connect
    if (connect !== undefined) {
      out.clientId = connect.clientId
      if (connect.username !== undefined) out.username = connect.username
    }
    return out
  },
}

/** MQTT 5 §3.1.2.11.4: the server must not send a packet larger than the client's maximum. */
function maximumPacketSize(conn: Connection): number | undefined {
  const value = conn.mqtt?.connect.properties?.maximumPacketSize
  return typeof value === 'number' ? value : undefined
}
