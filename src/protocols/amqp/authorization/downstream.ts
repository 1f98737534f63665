/**
 * Broker → client. Everything passes but on a channel the gateway is refusing (enforcement.ts):
 * there the broker's frames are dropped until its Channel.Close-Ok (dropped too), except the rest
 * of a delivery that had begun — the client must never get half a message. The broker's
 * Basic.Consume-Ok names an untagged consumer, its Basic.Cancel and Channel.Close forget
 * consumers. Its output position is the kick goodbye's frame boundary (DownstreamFilter).
 */
import type { Socket } from 'node:net'
import type { DownstreamFilter as DownstreamFilterContract, FilterIo } from '../../../proxy/stream-filter'
import { FRAME_TYPES } from '../frame-codec'
import type { ChannelState } from './channel-state'
import type { Enforcement } from './enforcement'
import { FrameFilter, VERDICT } from './frame-filter'
import type { Verdict } from './frame-filter'
import { MethodArgs } from './method-args'
import { METHODS } from './method-ids'

export class DownstreamFilter extends FrameFilter implements DownstreamFilterContract {
  private readonly args = new MethodArgs()

  constructor(
    private readonly client: Socket,
    private readonly s: Enforcement,
    private readonly maxBacklog: FilterIo['maxInjectedBacklogBytes'],
    holdCap: number,
  ) {
    super(client, s, holdCap)
  }

  protected wantsBodySize(): boolean {
    return false
  }

  protected decide(): Verdict {
    const channel = this.channel
    if (channel === 0) return VERDICT.PASS
    const state = this.s.channels.size === 0 ? undefined : this.s.channels.get(channel)
    if (state === undefined) return this.open(channel)
    return this.notOpen(channel, state)
  }

  protected decideWhole(frame: Buffer, at: number): Verdict {
    const channel = this.channel
    const state = this.s.channels.get(channel)
    if (state !== undefined) return this.notOpen(channel, state)
    if (!this.args.read(this.key, frame, at, at + this.size + 7)) {
      this.fail(`malformed arguments of the broker's method ${this.key >>> 16}.${this.key & 0xffff} on channel ${channel}`)
      return VERDICT.DROP
    }
    if (this.key === METHODS.BASIC_CONSUME_OK) this.s.consumers.confirmed(channel, this.args.tag)
    else this.s.consumers.cancelled(channel, this.args.tag)
    return VERDICT.PASS
  }

  protected frameEnded(): void {}

  /** Past the backlog cap the client is not reading what the gateway tells it: SLOW_CONSUMER. */
  protected injected(): void {
    if (this.client.writableLength > this.maxBacklog) {
      this.s.end('SLOW_CONSUMER', `${this.client.writableLength} octets of the gateway's own frames unread`)
    }
  }

  private open(channel: number): Verdict {
    if (this.type !== FRAME_TYPES.METHOD) return VERDICT.PASS
    switch (this.key) {
      case METHODS.CHANNEL_CLOSE:
        // A channel exception of the broker's (§2.3.7): passed on; the client's Close-Ok frees it.
        this.s.consumers.forget(channel)
        this.s.content.clear(channel)
        this.s.channels.set(channel, { kind: 'closing', by: 'broker', upContentPasses: true })
        return VERDICT.PASS
      case METHODS.BASIC_CONSUME_OK:
        return this.s.consumers.awaitingTag(channel) ? VERDICT.HOLD : VERDICT.PASS
      case METHODS.BASIC_CANCEL:
        return this.s.consumers.on(channel) ? VERDICT.HOLD : VERDICT.PASS
      default:
        return VERDICT.PASS
    }
  }

  private notOpen(channel: number, state: ChannelState): Verdict {
    const method = this.type === FRAME_TYPES.METHOD
    switch (state.kind) {
      case 'closing':
        if (method && this.key === METHODS.CHANNEL_CLOSE_OK && state.by === 'client') this.s.channels.delete(channel)
        return VERDICT.PASS
      case 'refusing-broker':
        if (!method) return state.downContentPasses ? VERDICT.PASS : VERDICT.DROP
        state.downContentPasses = false
        if (this.key === METHODS.CHANNEL_CLOSE_OK && state.closeSent) this.s.brokerClosed(channel, state)
        else if (this.key === METHODS.CHANNEL_CLOSE) this.s.brokerCrossed(channel, state)
        return VERDICT.DROP
      case 'refusing-client':
        // The broker's side is closed: nothing of it belongs to the client's channel.
        return VERDICT.DROP
    }
  }
}
