import type { KickReason, RefusalReason } from '../../reasons'
import { connackFor, disconnectFor } from '../../protocols/mqtt/mqtt-reasons'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import type { SessionIdentity } from '../session-registry'
import { mqttConnect } from '../stages/mqtt-connect'
import { ClientGone } from '../read-client'

/**
 * What the pipeline needs to know about a protocol to refuse, identify and kick its clients.
 * The decision is made elsewhere; the adapter only turns a reason code into the protocol's words.
 */
export interface ProtocolAdapter {
  /** Last words for a refused client, or undefined to just close. May read the client's hello. */
  refusalReply(conn: Connection, reason: RefusalReason, deps: PipelineDeps): Promise<Buffer | undefined>
  /** Goodbye written to a live client before a kick closes it. */
  kickGoodbye(conn: Connection, reason: KickReason): Buffer | undefined
  /** Identity fields of the connection, for the session registry and audit. */
  identity(conn: Connection): Omit<SessionIdentity, 'instanceId' | 'protocol' | 'sourceIp' | 'sourcePort'>
  /** Client identity for audit `actor` (never credentials). */
  actor(conn: Connection): Record<string, string>
}

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

  kickGoodbye(conn, reason) {
    const version = conn.mqtt?.connect.protocolVersion
    return version === undefined ? undefined : disconnectFor(version, reason, reason, maximumPacketSize(conn))
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
