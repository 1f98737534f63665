/**
 * The authorization filters of an enforced AMQP 0-9-1 session (DESIGN §4 "Enforcement"), started
 * right after the handshake: Connection.Open has been forwarded, so the first octet each direction
 * sees starts a frame. The splice writes client chunks through `upstream.push`, broker chunks
 * through `downstream.push`, and calls `close()` when the session ends.
 */
import type { FilterIo, SessionFilters } from '../../../proxy/stream-filter'
import { DownstreamFilter } from './downstream'
import { Enforcement } from './enforcement'
import { UpstreamFilter } from './upstream'

export interface AmqpFilterOptions {
  readonly io: FilterIo
  /** The negotiated frame-max (Connection.Tune-Ok; 0 = no limit, §4.2.3). */
  readonly frameMax: number
}

export function amqpSessionFilters(options: AmqpFilterOptions): SessionFilters {
  const { io, frameMax } = options
  // A method frame held to be decided never exceeds what the session may send, nor the inspect cap.
  const holdCap = frameMax > 0 ? Math.min(frameMax, io.maxInspectBytes) : io.maxInspectBytes
  const session = new Enforcement(io)
  const upstream = new UpstreamFilter(io.upstream, session, io.authorizer, holdCap)
  const downstream = new DownstreamFilter(io.client, session, io.maxInjectedBacklogBytes, holdCap)
  session.connect(upstream, downstream)
  let unsubscribe: (() => void) | undefined = io.authorizer.onChange(session.reDecide)
  return {
    upstream,
    downstream,
    close() {
      unsubscribe?.()
      unsubscribe = undefined
    },
  }
}
