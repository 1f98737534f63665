import type { IConnectPacket } from 'mqtt-packet'
import type { ConnectInfo } from '../../src/protocols/mqtt/connect-decoder'

/** mqtt-packet's decoding of an accepted CONNECT; a test fails loudly when it disagrees with the walk. */
export function mqttPacketOf(info: ConnectInfo): IConnectPacket {
  const packet = info.mqttPacket()
  if (typeof packet === 'string') throw new Error(`mqtt-packet disagrees with the walk: ${packet}`)
  return packet
}
