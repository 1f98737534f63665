/**
 * Client → broker. On an open channel, the methods of method-ids.ts DECIDED are held whole and
 * decided (SessionAuthorizer.amqp); an allowed one passes, a denied one is dropped and refuses its
 * channel (enforcement.ts). Basic.Consume records a consumer, Basic.Cancel forgets one,
 * Channel.Close starts the client's close. Every other frame passes untouched.
 */
import type { Socket } from 'node:net'
import type { SessionAuthorizer } from '../../../authorization/session-authorizer'
import type { StreamFilter } from '../../../proxy/stream-filter'
import { FRAME_TYPES } from '../frame-codec'
import type { ChannelState } from './channel-state'
import { MAX_CONSUMERS } from './consumers'
import type { Enforcement } from './enforcement'
import { FrameFilter, VERDICT } from './frame-filter'
import type { Verdict } from './frame-filter'
import { MethodArgs } from './method-args'
import { METHODS, decidedAction } from './method-ids'
import type { ResourceAction } from './method-ids'

export class UpstreamFilter extends FrameFilter implements StreamFilter {
  private readonly args = new MethodArgs()
  /** The channel whose followed content the current frame completes, else -1. */
  private completes = -1

  constructor(
    broker: Socket,
    private readonly s: Enforcement,
    private readonly authorizer: SessionAuthorizer,
    holdCap: number,
  ) {
    super(broker, s, holdCap)
  }

  protected wantsBodySize(channel: number): boolean {
    return this.s.content.has(channel)
  }

  protected decide(): Verdict {
    const channel = this.channel
    // Channel 0: connection methods and heartbeats (§4.2.7), nothing of a resource.
    if (channel === 0) return VERDICT.PASS
    const state = this.s.channels.size === 0 ? undefined : this.s.channels.get(channel)
    if (state === undefined) return this.open(channel)
    return this.notOpen(channel, state)
  }

  protected decideWhole(frame: Buffer, at: number): Verdict {
    const channel = this.channel
    const key = this.key
    // The state may have changed while the frame arrived (a revocation, the broker's Close).
    const state = this.s.channels.size === 0 ? undefined : this.s.channels.get(channel)
    if (state !== undefined) return this.notOpen(channel, state)
    if (!this.args.read(key, frame, at, at + this.size + 7)) {
      this.fail(`malformed arguments of method ${key >>> 16}.${key & 0xffff} on channel ${channel}`)
      return VERDICT.DROP
    }
    if (key === METHODS.BASIC_CANCEL) {
      this.s.consumers.cancelled(channel, this.args.tag)
      return VERDICT.PASS
    }
    const action = decidedAction(key) as ResourceAction
    if (!this.allowed(key, action)) {
      this.s.refuse(channel, action, key, false)
      return VERDICT.DROP
    }
    if (key === METHODS.BASIC_CONSUME) {
      if (!this.s.consumers.add(channel, this.args.first, this.args.tag, this.args.noWait)) {
        this.s.end('PROTOCOL_ERROR', `more than ${MAX_CONSUMERS} consumers`)
        return VERDICT.DROP
      }
    } else if (key === METHODS.BASIC_PUBLISH && this.s.consumers.on(channel)) {
      this.s.content.expect(channel)
    }
    return VERDICT.PASS
  }

  protected frameEnded(): void {
    const channel = this.completes
    if (channel < 0) return
    this.completes = -1
    // A revoked channel's last publish is now whole at the broker: its Close may follow.
    const state = this.s.channels.get(channel)
    if (state?.kind === 'refusing-broker') this.s.closeBroker(channel, state)
  }

  private open(channel: number): Verdict {
    if (this.type !== FRAME_TYPES.METHOD) {
      this.follow(channel)
      return VERDICT.PASS
    }
    const key = this.key
    // A method ends any content before it (§4.2.6: content follows its method at once).
    if (this.s.content.has(channel)) this.s.content.clear(channel)
    if (decidedAction(key) !== undefined) return VERDICT.HOLD
    if (key === METHODS.CHANNEL_CLOSE) {
      this.s.consumers.forget(channel)
      this.s.content.clear(channel)
      this.s.channels.set(channel, { kind: 'closing', by: 'client', upContentPasses: true })
      return VERDICT.PASS
    }
    if (key === METHODS.BASIC_CANCEL && this.s.consumers.on(channel)) return VERDICT.HOLD
    return VERDICT.PASS
  }

  private notOpen(channel: number, state: ChannelState): Verdict {
    const method = this.type === FRAME_TYPES.METHOD
    const key = this.key
    switch (state.kind) {
      case 'closing':
        // §2.3.7: the broker discards what follows a Close; a method that would be decided is
        // dropped undecided (never to reach the broker), its content with it.
        if (!method) return state.upContentPasses ? VERDICT.PASS : VERDICT.DROP
        if (key === METHODS.CHANNEL_CLOSE_OK && state.by === 'broker') {
          this.s.channels.delete(channel)
          return VERDICT.PASS
        }
        state.upContentPasses = decidedAction(key) === undefined
        return state.upContentPasses ? VERDICT.PASS : VERDICT.DROP
      case 'refusing-broker':
        if (!state.closeSent) {
          // Revoked with a publish of the client's partly through: the rest of it passes.
          if (!method) {
            this.follow(channel)
            return VERDICT.PASS
          }
          this.s.closeBroker(channel, state)
        }
        if (key === METHODS.CHANNEL_CLOSE) state.clientClosed = true
        return VERDICT.DROP
      case 'refusing-client':
        if (key === METHODS.CHANNEL_CLOSE_OK) this.s.channels.delete(channel)
        else if (key === METHODS.CHANNEL_CLOSE) this.s.clientCrossed(channel)
        return VERDICT.DROP
    }
  }

  /** Content on a channel with consumers: counted, so that a revocation waits for it. */
  private follow(channel: number): void {
    if (this.type === FRAME_TYPES.HEADER) {
      if (this.hasBodySize && this.s.content.header(channel, this.bodySize)) this.completes = channel
    } else if (this.type === FRAME_TYPES.BODY) {
      if (this.s.content.has(channel) && this.s.content.body(channel, this.size)) this.completes = channel
    }
  }

  private allowed(key: number, action: ResourceAction): boolean {
    const { first, second } = this.args
    const az = this.authorizer
    switch (key) {
      case METHODS.BASIC_PUBLISH:
      case METHODS.EXCHANGE_DECLARE:
      case METHODS.EXCHANGE_DELETE:
        // '' is the default exchange; the authorizer names it amq.default.
        return az.amqp(action, 'exchange', first)
      case METHODS.QUEUE_BIND:
      case METHODS.QUEUE_UNBIND:
        // A binding touches both ends: both must allow it.
        return az.amqp(action, 'queue', first) && az.amqp(action, 'exchange', second)
      case METHODS.EXCHANGE_BIND:
      case METHODS.EXCHANGE_UNBIND:
        return az.amqp(action, 'exchange', first) && az.amqp(action, 'exchange', second)
      default:
        return az.amqp(action, 'queue', first)
    }
  }
}
