import { ConnectReader } from '../../protocols/mqtt/connect-decoder'
import { encodeConnack } from '../../protocols/mqtt/connack'
import type { Connection } from '../connection'
import type { PipelineDeps } from '../deps'
import { readFromClient } from '../read-client'
import { CONTINUE, reject, type Verdict } from '../verdict'

/**
 * Reads the client's first packet, which must be a CONNECT [MQTT-3.1.0-1], through a decoder that
 * refuses a declared length over `limits.maxConnectBytes` before buffering it. Idempotent: the
 * refusal path may call it to learn the protocol version for its CONNACK.
 */
export async function mqttConnect(conn: Connection, deps: PipelineDeps): Promise<Verdict> {
  if (conn.mqtt !== undefined) return CONTINUE
  const reader = new ConnectReader(deps.config.limits.maxConnectBytes)
  const result = await readFromClient(conn, (chunk) => {
    const r = reader.push(chunk)
    return r.kind === 'need-more' ? undefined : r
  })
  if (result.kind === 'error') {
    // Answer in the client's version with the CONNACK the decoder names (0x01 unacceptable
    // protocol level, 0x02 identifier rejected, MQTT 5 0x95 packet too large…) [MQTT-3.2.2-6].
    const version = result.protocolVersion
    if (version !== undefined) conn.mqttVersionHint = version
    const reply = version === undefined ? undefined : encodeConnack(version, result.refusal, 'PROTOCOL_ERROR')
    return reject('PROTOCOL_ERROR', result.detail, reply)
  }
  conn.mqtt = { connect: result.packet, raw: result.raw, rest: result.rest }
  return CONTINUE
}
