import type { SessionAuthorizer } from '../../../authorization/session-authorizer'
import type { FilterEndCause, FilterIo } from '../../../proxy/stream-filter'
import type { ProtocolVersion } from '../connect-layout'
import { PendingSubacks } from './subscribe'
import { REASON } from './wire'

/**
 * What the two filters of one MQTT session share: whether it has ended, the SUBSCRIBEs whose
 * SUBACK the downstream filter must rewrite, and the broker's QoS 2 deliveries the gateway
 * answered itself. Everything here is bounded by packet ids (two octets) and the caps below.
 */
export class MqttFilterSession {
  /** Set once the session ends (a filter's own verdict, or `close()`): both filters stop reading. */
  ended = false
  readonly v5: boolean
  readonly authorizer: SessionAuthorizer
  /** SUBACK code for a refused filter: 0x87 in MQTT 5, 0x80 Failure in 3.1.1 (and for 3.1 clients). */
  readonly subackFailure: number
  readonly maxInspectBytes: number
  readonly maxInjectedBacklogBytes: number
  readonly clientMaximumPacketSize: number | undefined
  /** SUBSCRIBEs forwarded with filters left out, awaiting the broker's SUBACK. */
  readonly pending: PendingSubacks
  /**
   * Packet ids of QoS 2 deliveries the gateway dropped and answered PUBREC to, until the broker's
   * PUBREL (MQTT 5 §4.3.3): that PUBREL is the gateway's to answer, not the client's.
   */
  readonly releases = new Set<number>()
  /** Topic text an alias map may hold per direction (topic-aliases.ts). */
  readonly aliasBudget: number

  constructor(private readonly io: FilterIo, version: ProtocolVersion, clientMaximumPacketSize: number | undefined) {
    this.v5 = version === 5
    this.authorizer = io.authorizer
    this.subackFailure = this.v5 ? REASON.NOT_AUTHORIZED : REASON.SUBACK_FAILURE_V3
    this.maxInspectBytes = io.maxInspectBytes
    this.maxInjectedBacklogBytes = io.maxInjectedBacklogBytes
    this.clientMaximumPacketSize = clientMaximumPacketSize
    this.pending = new PendingSubacks(io.maxInspectBytes)
    this.aliasBudget = io.maxInspectBytes
  }

  get client(): FilterIo['client'] {
    return this.io.client
  }

  get upstream(): FilterIo['upstream'] {
    return this.io.upstream
  }

  /** Ends the session once; the filters read nothing after it. */
  end(cause: FilterEndCause, detail: string): void {
    if (this.ended) return
    this.ended = true
    this.io.end(cause, detail)
  }

  /** The splice is done with the session: drop what it holds. */
  close(): void {
    this.ended = true
    this.pending.clear()
    this.releases.clear()
  }
}
