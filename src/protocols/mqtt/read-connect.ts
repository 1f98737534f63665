import type { Socket } from 'node:net'
import { readFrom } from '../../proxy/read-client'
import { ConnectReader, type ConnectReadResult } from './connect-decoder'

/**
 * Reads the client's first packet, which must be a CONNECT [MQTT-3.1.0-1], through a decoder that
 * refuses a declared length over `maxBytes` before buffering it. Used by the CONNECT stage and by
 * a refusal decided before it (to answer in the client's protocol version).
 */
export function readConnect(client: Socket, signal: AbortSignal, maxBytes: number): Promise<Exclude<ConnectReadResult, { kind: 'need-more' }>> {
  const reader = new ConnectReader(maxBytes)
  return readFrom(client, signal, (chunk) => {
    const r = reader.push(chunk)
    return r.kind === 'need-more' ? undefined : r
  })
}
