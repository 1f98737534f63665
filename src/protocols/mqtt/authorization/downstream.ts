import type { DownstreamFilter, StreamFilter } from '../../../proxy/stream-filter'
import { PacketWalker, VERDICT } from './packet-walker'
import { HEAD_DONE, HEAD_FAILED, PublishHead } from './publish-head'
import { GATE, PublishGate, rewritePublishHead, rewrittenPacketSize } from './publish-gate'
import type { MqttFilterSession } from './session'
import { mergeSuback } from './subscribe'
import { TopicAliases } from './topic-aliases'
import { encodeAck, PACKET_TYPE } from './wire'

/**
 * Broker → client. A delivery (PUBLISH) is decided `mqtt:Receive` on the topic the broker means;
 * the SUBACK of a SUBSCRIBE forwarded with filters left out is merged back to one code per filter
 * the client sent; everything else passes untouched.
 *
 * A dropped delivery leaves the broker waiting for an acknowledgement the client will never send
 * (and holding the packet id, and its Receive Maximum quota): the gateway sends it instead, as a
 * client that accepted the message would — QoS 1 PUBACK; QoS 2 PUBREC, then the PUBCOMP for the
 * broker's PUBREL, which never reaches the client (MQTT 5 §4.3.3, 3.1.1 §4.3.3).
 *
 * This filter also says where the client's stream stands (`atBoundary`, `framesStarted`,
 * `untilBoundary`): a kick's goodbye goes out between two packets of it (splice.ts).
 */
export class DownstreamMqttFilter extends PacketWalker implements DownstreamFilter {
  private readonly head = new PublishHead()
  private readonly gate: PublishGate
  private toBroker: StreamFilter | undefined

  constructor(session: MqttFilterSession) {
    super(session, session.client)
    const aliases = session.v5 ? new TopicAliases(session.aliasBudget) : undefined
    this.gate = new PublishGate(session.authorizer, 'mqtt:Receive', aliases)
  }

  /** Where the gateway's answers to the broker go: the client → broker filter (the two are made together). */
  answerBrokerThrough(upstream: StreamFilter): void {
    this.toBroker = upstream
  }

  protected firstNeed(): number {
    switch (this.byte0 >> 4) {
      case PACKET_TYPE.PUBLISH:
        return this.headerLength + 2
      case PACKET_TYPE.PUBREL:
        return this.session.releases.size > 0 ? this.headerLength + 2 : this.headerLength
      case PACKET_TYPE.SUBACK:
        return this.session.pending.size > 0 ? this.headerLength + 2 : this.headerLength
      default:
        return this.headerLength
    }
  }

  protected inspect(buf: Buffer, off: number, avail: number): number {
    switch (this.byte0 >> 4) {
      case PACKET_TYPE.PUBLISH:
        return this.publish(buf, off, avail)
      case PACKET_TYPE.PUBREL:
        return this.pubrel(buf.readUInt16BE(off + this.headerLength))
      default:
        return this.suback(buf, off, avail)
    }
  }

  private publish(buf: Buffer, off: number, avail: number): number {
    const head = this.head
    const read = head.read(buf, off, avail, this.byte0, this.headerLength, this.session.v5)
    if (read !== HEAD_DONE) return read === HEAD_FAILED ? this.refuse('PROTOCOL_ERROR', head.detail) : this.more(read)
    this.need = head.end
    switch (this.gate.decide(head)) {
      case GATE.PASS:
        return VERDICT.PASS
      case GATE.REWRITE: {
        const topic = this.gate.topic
        const maximum = this.session.clientMaximumPacketSize
        // [MQTT-3.1.2-25]: a packet too large for the client is discarded as if it had been sent.
        if (maximum !== undefined && rewrittenPacketSize(this.remaining, topic) > maximum) return this.undelivered(head)
        this.replacement = rewritePublishHead(buf, off, head, this.remaining, topic)
        if (!this.gate.rewritten(head.alias, topic)) return this.refuse('PROTOCOL_ERROR', 'topic aliases over the gateway\'s budget')
        return VERDICT.REWRITE
      }
      case GATE.FAIL:
        return this.refuse('PROTOCOL_ERROR', this.gate.detail)
      default:
        return this.undelivered(head)
    }
  }

  /** Drops the delivery and acknowledges it to the broker as the client would have. */
  private undelivered(head: PublishHead): number {
    if (head.qos === 1) {
      this.toBroker?.inject(encodeAck(PACKET_TYPE.PUBACK, head.packetId))
    } else if (head.qos === 2) {
      this.session.releases.add(head.packetId)
      this.toBroker?.inject(encodeAck(PACKET_TYPE.PUBREC, head.packetId))
    }
    return VERDICT.DROP
  }

  private pubrel(packetId: number): number {
    this.need = this.headerLength + 2
    if (!this.session.releases.delete(packetId)) return VERDICT.PASS
    this.toBroker?.inject(encodeAck(PACKET_TYPE.PUBCOMP, packetId))
    return VERDICT.DROP
  }

  private suback(buf: Buffer, off: number, avail: number): number {
    const packetId = buf.readUInt16BE(off + this.headerLength)
    const total = this.headerLength + this.remaining
    if (!this.session.pending.has(packetId)) {
      this.need = this.headerLength + 2
      return VERDICT.PASS
    }
    if (avail < total) return this.more(total)
    const denied = this.session.pending.take(packetId) as Uint8Array
    const merged = mergeSuback(buf, off, this.headerLength, total, this.session.v5, denied, this.session.subackFailure, this.session.clientMaximumPacketSize)
    if (typeof merged === 'string') return this.refuse('PROTOCOL_ERROR', merged)
    this.replacement = merged
    this.need = total
    return VERDICT.REWRITE
  }
}
