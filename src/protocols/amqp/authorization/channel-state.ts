/**
 * What the filters know of one channel besides "open" (open channels have no entry, so a session
 * of plain publishers keeps an empty map). AMQP 0-9-1 §2.3.7 / XML channel.close: a channel
 * exception closes the channel with Close → Close-Ok, the connection stays; "after sending Close,
 * any received methods except Close and Close-Ok MUST be discarded"; a peer that receives Close
 * after sending Close answers it Close-Ok.
 *
 *   open ──client Close──▶ closing(client) ──broker Close-Ok──▶ open
 *   open ──broker Close──▶ closing(broker) ──client Close-Ok──▶ open
 *   open ──denied method / revoked consumer──▶ refusing-broker        (gateway → broker: Close 200)
 *        refusing-broker ──broker Close-Ok──▶ refusing-client         (gateway → client: Close 403)
 *                                          └▶ open, when the client had sent Close itself
 *                                             (gateway → client: Close-Ok)
 *        refusing-client ──client Close-Ok──▶ open                    (the broker's channel is closed:
 *                                                                      a new Channel.Open passes)
 */
import type { ResourceAction } from './method-ids'

export type ChannelState =
  /**
   * One side's Close was passed on; the other side's Close-Ok frees the channel. Client methods
   * that would be decided are dropped undecided (the broker discards them anyway, and a denied
   * one must never reach it); `upContentPasses` makes their content frames follow them.
   */
  | { readonly kind: 'closing'; readonly by: 'client' | 'broker'; upContentPasses: boolean }
  /**
   * Steps 1–2: every client frame on the channel is dropped (but the content of a publish that
   * began before a revocation, which the broker must receive whole: `closeSent` false until it
   * has), and every broker frame until the broker's Close-Ok (but the rest of a delivery that had
   * begun: `downContentPasses`, cleared at the broker's next method).
   */
  | {
      readonly kind: 'refusing-broker'
      readonly action: ResourceAction
      readonly classId: number
      readonly methodId: number
      closeSent: boolean
      clientClosed: boolean
      downContentPasses: boolean
    }
  /** Step 4: the client was sent Close 403; its Close-Ok (dropped) frees the channel. */
  | { readonly kind: 'refusing-client' }

/** Channel numbers are a u16 (§4.2.3), so a session holds at most 65536 states. */
export type ChannelStates = Map<number, ChannelState>
