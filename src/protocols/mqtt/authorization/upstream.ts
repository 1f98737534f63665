import type { StreamFilter } from '../../../proxy/stream-filter'
import { PacketWalker, VERDICT } from './packet-walker'
import { HEAD_DONE, HEAD_FAILED, PublishHead } from './publish-head'
import { GATE, PublishGate, rewritePublishHead } from './publish-gate'
import type { MqttFilterSession } from './session'
import { gatewaySuback, readSubscribe, subscribeSubset, subscriptionTopic } from './subscribe'
import { TopicAliases } from './topic-aliases'
import { encodeAck, PACKET_TYPE, REASON } from './wire'

/**
 * Client → broker. PUBLISH is decided `mqtt:Publish` on the topic the client means (its topic
 * name, or the topic it set for the alias it uses); SUBSCRIBE filter by filter `mqtt:Subscribe`.
 * Every other packet passes untouched.
 *
 * A denied PUBLISH never reaches the broker, so the broker never answers it; the gateway does,
 * so that the client's packet identifier is free again:
 * - QoS 0: dropped, nothing to answer;
 * - QoS 1: PUBACK 0x87 Not authorized (MQTT 5 §3.4.2.1);
 * - QoS 2: PUBREC 0x87 — a PUBREC with a code ≥ 0x80 ends the exchange, no PUBREL follows
 *   (MQTT 5 §4.3.3), so the broker is never asked about a packet id it has not seen;
 * - MQTT 3.1 / 3.1.1 have no code to refuse a QoS 1/2 PUBLISH with (a PUBACK would be a lie the
 *   client acts on): the session ends NOT_AUTHORIZED, as DESIGN §4 says.
 * A SUBSCRIBE with some filters denied goes on with the allowed ones only; the broker's SUBACK is
 * merged back on its way down (downstream.ts). All denied: the gateway answers the SUBACK itself.
 */
export class UpstreamMqttFilter extends PacketWalker {
  private readonly head = new PublishHead()
  private readonly gate: PublishGate

  constructor(session: MqttFilterSession, private readonly toClient: StreamFilter) {
    super(session, session.upstream)
    const aliases = session.v5 ? new TopicAliases(session.aliasBudget) : undefined
    this.gate = new PublishGate(session.authorizer, 'mqtt:Publish', aliases)
  }

  protected firstNeed(): number {
    switch (this.byte0 >> 4) {
      case PACKET_TYPE.PUBLISH:
        return this.headerLength + 2
      case PACKET_TYPE.SUBSCRIBE:
        if ((this.byte0 & 0x0f) !== 0x02) {
          this.failDetail = 'SUBSCRIBE with reserved flags other than 0010 [MQTT-3.8.1-1]'
          return -1
        }
        return this.headerLength + this.remaining
      default:
        return this.headerLength
    }
  }

  protected inspect(buf: Buffer, off: number, avail: number): number {
    return this.byte0 >> 4 === PACKET_TYPE.PUBLISH ? this.publish(buf, off, avail) : this.subscribe(buf, off)
  }

  private publish(buf: Buffer, off: number, avail: number): number {
    const head = this.head
    const read = head.read(buf, off, avail, this.byte0, this.headerLength, this.session.v5)
    if (read !== HEAD_DONE) return read === HEAD_FAILED ? this.refuse('PROTOCOL_ERROR', head.detail) : this.more(read)
    this.need = head.end
    switch (this.gate.decide(head)) {
      case GATE.PASS:
        return VERDICT.PASS
      case GATE.REWRITE:
        this.replacement = rewritePublishHead(buf, off, head, this.remaining, this.gate.topic)
        if (!this.gate.rewritten(head.alias, this.gate.topic)) return this.refuse('PROTOCOL_ERROR', 'topic aliases over the gateway\'s budget')
        return VERDICT.REWRITE
      case GATE.FAIL:
        return this.refuse('PROTOCOL_ERROR', this.gate.detail)
      default:
        return this.denied(head.qos, head.packetId)
    }
  }

  private denied(qos: number, packetId: number): number {
    if (qos === 0) return VERDICT.DROP
    if (!this.session.v5) {
      return this.refuse('NOT_AUTHORIZED', `mqtt:Publish denied for a QoS ${qos} PUBLISH, which MQTT 3.x cannot refuse`)
    }
    this.toClient.inject(encodeAck(qos === 1 ? PACKET_TYPE.PUBACK : PACKET_TYPE.PUBREC, packetId, REASON.NOT_AUTHORIZED))
    return VERDICT.DROP
  }

  private subscribe(buf: Buffer, off: number): number {
    const total = this.headerLength + this.remaining
    const read = readSubscribe(buf, off, this.headerLength, total, this.session.v5)
    if (typeof read === 'string') return this.refuse('PROTOCOL_ERROR', read)
    this.need = total
    const count = read.filters.length
    const denied = new Uint8Array(count)
    let refused = 0
    for (let i = 0; i < count; i += 1) {
      if (!this.session.authorizer.mqttTopic('mqtt:Subscribe', subscriptionTopic(read.filters[i] as string))) {
        denied[i] = 1
        refused += 1
      }
    }
    if (refused === 0) {
      // A reused packet id replaces what was pending under it: its SUBACK needs no rewriting.
      this.session.pending.take(read.packetId)
      return VERDICT.PASS
    }
    if (refused === count) {
      // Nothing to ask the broker: the gateway answers, one failure code per filter [MQTT-3.9.3-1].
      this.toClient.inject(gatewaySuback(read.packetId, count, this.session.subackFailure, this.session.v5))
      return VERDICT.DROP
    }
    if (!this.session.pending.set(read.packetId, denied)) {
      return this.refuse('SLOW_CONSUMER', 'SUBACKs awaiting a rewrite over the gateway\'s budget')
    }
    this.replacement = subscribeSubset(buf, off, total, read, denied)
    return VERDICT.REWRITE
  }
}
