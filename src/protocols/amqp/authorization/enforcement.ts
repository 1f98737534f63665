/**
 * What the two directions of one enforced AMQP session share: the channels that are not simply
 * open (channel-state.ts), the consumers, the client content in flight, and the refusal of a
 * channel — the close handshake on both ends that a denied method or a revoked consumer starts.
 *
 *   client              gateway                      broker
 *   Basic.Publish ───▶  denied: dropped, and every later client frame on the channel
 *                       Channel.Close 200 ─────────▶                         (step 2)
 *                       broker frames on the channel dropped … ◀──────────── Close-Ok (dropped)
 *        ◀──────────── Channel.Close 403 ACCESS_REFUSED - NOT_AUTHORIZED <action>   (step 3)
 *   Close-Ok ────────▶  dropped; the channel is free again                          (step 4)
 *
 * The broker is closed first, so that nothing the client sends after it hears the 403 (a new
 * Channel.Open on the same number) can reach a broker channel that is still open; the client is
 * told only once the broker has let the channel go. If the client closes the channel itself
 * meanwhile (crossing closes), it is answered Close-Ok instead of the 403 (§2.3.7: a peer that
 * receives Close after sending Close answers Close-Ok).
 */
import type { FilterEndCause, FilterIo } from '../../../proxy/stream-filter'
import { brokerChannelClose, channelCloseOk, refusalChannelClose } from './channel-frames'
import type { ChannelState, ChannelStates } from './channel-state'
import { Consumers } from './consumers'
import { ContentInFlight } from './content-in-flight'
import type { SessionEnd } from './frame-filter'
import { METHODS, classOf, methodOf } from './method-ids'
import type { ResourceAction } from './method-ids'

type RefusingBroker = Extract<ChannelState, { kind: 'refusing-broker' }>

/** Where the gateway's own frames go: the two directions' `inject`. */
export interface Injector {
  inject(packet: Buffer): void
}

const REFUSING_CLIENT: ChannelState = { kind: 'refusing-client' }

export class Enforcement implements SessionEnd {
  ended = false
  readonly channels: ChannelStates = new Map()
  readonly consumers = new Consumers()
  readonly content = new ContentInFlight()
  private toBroker: Injector | undefined
  private toClient: Injector | undefined

  constructor(private readonly io: FilterIo) {}

  /** The two directions, once built (each needs this object first). */
  connect(toBroker: Injector, toClient: Injector): void {
    this.toBroker = toBroker
    this.toClient = toClient
  }

  end(cause: FilterEndCause, detail: string): void {
    if (this.ended) return
    this.ended = true
    this.io.end(cause, detail)
  }

  /**
   * Step 1 on an open channel: from here its client frames are dropped. `contentInFlight`: a
   * publish of the client's is partly through, so the broker's Close waits until it is whole.
   */
  refuse(channel: number, action: ResourceAction, key: number, contentInFlight: boolean): void {
    this.consumers.forget(channel)
    const state: RefusingBroker = {
      kind: 'refusing-broker', action, classId: classOf(key), methodId: methodOf(key),
      closeSent: false, clientClosed: false, downContentPasses: true,
    }
    this.channels.set(channel, state)
    if (!contentInFlight) this.closeBroker(channel, state)
  }

  /** Step 2: the broker's side of the channel. */
  closeBroker(channel: number, state: RefusingBroker): void {
    if (state.closeSent) return
    state.closeSent = true
    this.content.clear(channel)
    this.toBroker?.inject(brokerChannelClose(channel, state.action))
  }

  /** The broker closed the channel itself while the gateway was closing it: answer Close-Ok. */
  brokerCrossed(channel: number, state: RefusingBroker): void {
    this.toBroker?.inject(channelCloseOk(channel))
    // Without a Close of the gateway's in flight, that Close-Ok ends the broker's side.
    if (!state.closeSent) {
      state.closeSent = true
      this.content.clear(channel)
      this.brokerClosed(channel, state)
    }
  }

  /** Step 3: the broker's side is closed; the client hears the 403 (or its own close's Close-Ok). */
  brokerClosed(channel: number, state: RefusingBroker): void {
    if (state.clientClosed) {
      this.channels.delete(channel)
      this.toClient?.inject(channelCloseOk(channel))
      return
    }
    this.channels.set(channel, REFUSING_CLIENT)
    this.toClient?.inject(refusalChannelClose(channel, state.action, state.classId, state.methodId))
  }

  /** Step 4, crossing: the client sent Close after the 403 went out; it still owes a Close-Ok. */
  clientCrossed(channel: number): void {
    this.toClient?.inject(channelCloseOk(channel))
  }

  /**
   * SessionAuthorizer.onChange: every tracked consumer is decided again; a channel with one that
   * may no longer consume is refused like a denied Basic.Consume, so its deliveries stop.
   */
  readonly reDecide = (): void => {
    if (this.ended || this.consumers.size === 0) return
    try {
      this.revokeConsumers()
    } catch (err) {
      // Called from the authorizer's change notification: never throw into it; fail closed.
      this.end('PROTOCOL_ERROR', `filter error: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  private revokeConsumers(): void {
    const revoked: number[] = []
    for (const [channel, consumers] of this.consumers.entries()) {
      if (this.channels.has(channel)) continue
      for (const consumer of consumers) {
        if (!this.io.authorizer.amqp('amqp:Consume', 'queue', consumer.queue)) {
          revoked.push(channel)
          break
        }
      }
    }
    for (const channel of revoked) this.refuse(channel, 'amqp:Consume', METHODS.BASIC_CONSUME, this.content.has(channel))
  }
}
