import type { Socket } from 'node:net'
import type { SessionAuthorizer } from '../authorization/session-authorizer'

/**
 * A session's bytes one way, through its protocol's authorization filter instead of straight
 * from socket to socket (pump.ts `filter`). Used only for sessions whose instance enforces
 * authorization; everything else is spliced unfiltered.
 *
 * A filter reads the protocol's framing as the bytes pass, decides the packets that touch a
 * resource (SessionAuthorizer), and writes what may pass to its destination socket — whole
 * chunks where nothing is dropped (no copies), slices around what is dropped or rewritten, and
 * the gateway's own answers (a PUBACK 0x87, a Channel.Close 403) between two packets of the
 * stream it writes into (`inject`). A packet header split across chunks is held back until it is
 * complete; nothing else is buffered, and a header longer than `maxInspectBytes` ends the session
 * PROTOCOL_ERROR, so memory per session stays bounded whatever a client sends.
 */
export interface StreamFilter {
  /** One chunk read from the source. Answers like `write()`: false when the destination's buffer is full. */
  push(chunk: Buffer): boolean
  /** Writes a packet of the gateway's own into this direction's output at the next packet boundary. */
  inject(packet: Buffer): void
}

/** The broker → client filter also says where the client's stream stands, for a kick's goodbye (splice.ts). */
export interface DownstreamFilter extends StreamFilter {
  /** True when the client's stream is between two packets (after what was injected). */
  readonly atBoundary: boolean
  /** Packets whose first byte reached the client (the broker's, passed on, and the gateway's own). */
  readonly framesStarted: number
  /** Pushes `chunk` only up to where the client's stream is next between two packets; answers the bytes consumed. */
  untilBoundary(chunk: Buffer): number
}

export interface SessionFilters {
  /** Client → broker. */
  readonly upstream: StreamFilter
  /** Broker → client. */
  readonly downstream: DownstreamFilter
  /** Detaches listeners (SessionAuthorizer.onChange) when the session ends. */
  close(): void
}

/** Why a filter ends its session: a denial the protocol has no answer for, a malformed packet, a client that reads nothing. */
export type FilterEndCause = 'NOT_AUTHORIZED' | 'PROTOCOL_ERROR' | 'SLOW_CONSUMER'

export interface FilterIo {
  readonly client: Socket
  readonly upstream: Socket
  readonly authorizer: SessionAuthorizer
  /** Ends the session (the splice closes both sockets and audits the cause); idempotent. */
  end(cause: FilterEndCause, detail: string): void
  /** Cap on the bytes a filter holds to decide one packet (`limits.maxInspectedPacketBytes`). */
  readonly maxInspectBytes: number
  /** Cap on the gateway's own answers queued unread in the client's socket; past it the session ends SLOW_CONSUMER. */
  readonly maxInjectedBacklogBytes: number
}
