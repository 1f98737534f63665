import type { FilterIo, SessionFilters } from '../../../proxy/stream-filter'
import type { ProtocolVersion } from '../connect-layout'
import { DownstreamMqttFilter } from './downstream'
import { MqttFilterSession } from './session'
import { UpstreamMqttFilter } from './upstream'

export interface MqttSessionFilterOptions {
  readonly version: ProtocolVersion
  /** MQTT 5 §3.1.2.11.4, from the client's CONNECT: what the gateway writes to it must fit. */
  readonly clientMaximumPacketSize?: number
  readonly io: FilterIo
}

/**
 * The authorization filters of one MQTT session whose instance enforces authorization (DESIGN §4
 * "Enforcement"): client → broker (upstream.ts) and broker → client (downstream.ts), sharing the
 * session's state (session.ts). Both start at a packet boundary: the upstream one right after the
 * CONNECT and whatever was pipelined with it, the downstream one at the broker's first octet.
 */
export function mqttSessionFilters(options: MqttSessionFilterOptions): SessionFilters {
  const session = new MqttFilterSession(options.io, options.version, options.clientMaximumPacketSize)
  const downstream = new DownstreamMqttFilter(session)
  const upstream = new UpstreamMqttFilter(session, downstream)
  downstream.answerBrokerThrough(upstream)
  return { upstream, downstream, close: () => session.close() }
}
