import { PUBLISH_PROPERTY } from './wire'

/**
 * The part of a PUBLISH a decision needs — everything before the payload — read in place from
 * whatever bytes of the packet are at hand, without copying them.
 *
 *  PUBLISH (MQTT 3.1.1 §3.3, MQTT 5 §3.3)
 *  +--------------+---------+------------+-----------+-----------------------+---------+
 *  | 0x3? flags   | rem.len | topic name | packet id | properties (5.0)      | payload |
 *  | DUP QoS RET  | VBI     | u16 + UTF8 | u16, QoS>0| VBI length + props    |         |
 *  +--------------+---------+------------+-----------+-----------------------+---------+
 *  |<------------------ what is read (`end` octets) ------------------------>|
 *
 * `read()` is restartable: called with fewer octets than it needs, it answers how many it needs
 * (from the packet start) and is called again once they are there — at most a handful of rounds
 * per packet (topic length, topic + packet id, property length, properties), so a header that
 * trickles in a byte at a time costs no more than one that arrives whole. One instance per
 * direction is reused for every packet: reading allocates nothing but the topic string.
 */
export class PublishHead {
  qos = 0
  /** Octets of the topic name; 0 for an MQTT 5 PUBLISH that names its topic by alias only. */
  topicLength = 0
  /** The topic name as sent ('' when `topicLength` is 0). */
  topic = ''
  /** Packet-relative offset of the topic name's two length octets. */
  topicAt = 0
  packetId = 0
  /** MQTT 5 Topic Alias (property 0x23), 0 when absent (0 itself is not a valid alias [MQTT-3.3.2-8]). */
  alias = 0
  /** Octets from the packet start to the payload: the inspected prefix. */
  end = 0
  /** Why `read` answered HEAD_FAILED. */
  detail = ''

  /**
   * Reads the PUBLISH at `buf[off]` whose fixed header is `headerLength` octets and first byte
   * `byte0`; `avail` octets of the packet (never more than the packet) are in `buf`. Answers
   * HEAD_DONE, HEAD_FAILED, or the octets from the packet start it needs, always more than `avail`
   * (the caller checks that against the packet length and the inspection cap).
   */
  read(buf: Buffer, off: number, avail: number, byte0: number, headerLength: number, v5: boolean): number {
    const qos = (byte0 >> 1) & 3
    if (qos === 3) return this.fail('PUBLISH with QoS 3 [MQTT-3.3.1-4]')
    let at = headerLength
    if (avail < at + 2) return at + 2
    const topicLength = ((buf[off + at] as number) << 8) | (buf[off + at + 1] as number)
    const topicAt = at
    at += 2 + topicLength
    const idAt = at
    if (qos > 0) at += 2
    if (v5) at += 1 // the first octet of the property length
    if (avail < at) return at
    let packetId = 0
    if (qos > 0) {
      packetId = ((buf[off + idAt] as number) << 8) | (buf[off + idAt + 1] as number)
      if (packetId === 0) return this.fail('PUBLISH with packet identifier 0 [MQTT-2.2.1-3]')
    }
    let alias = 0
    if (v5) {
      // Property Length, a Variable Byte Integer of at most four octets [MQTT-1.5.5-1].
      let p = at - 1
      let length = 0
      let multiplier = 1
      for (let i = 0; ; i += 1) {
        if (avail <= p) return p + 1
        const byte = buf[off + p] as number
        p += 1
        length += (byte & 0x7f) * multiplier
        if ((byte & 0x80) === 0) break
        if (i === 3) return this.fail('PUBLISH property length longer than four octets')
        multiplier *= 128
      }
      const propertiesEnd = p + length
      if (avail < propertiesEnd) return propertiesEnd
      alias = this.topicAlias(buf, off + p, off + propertiesEnd)
      if (alias < 0) return HEAD_FAILED
      at = propertiesEnd
    }
    this.qos = qos
    this.topicAt = topicAt
    this.topicLength = topicLength
    this.topic = topicLength === 0 ? '' : buf.toString('utf8', off + topicAt + 2, off + topicAt + 2 + topicLength)
    this.packetId = packetId
    this.alias = alias
    this.end = at
    return HEAD_DONE
  }

  /**
   * The Topic Alias among the PUBLISH properties in `buf[from, to)`, 0 when there is none, -1 (and
   * `detail`) when the block is malformed. Every property must be walked to find the alias, so an
   * identifier that is not a PUBLISH property is malformed: the gateway cannot skip what it cannot
   * size, and must not guess (MQTT 5 §2.2.2.2).
   */
  private topicAlias(buf: Buffer, from: number, to: number): number {
    let p = from
    let alias = 0
    while (p < to) {
      const id = buf[p++] as number
      switch (id) {
        case PUBLISH_PROPERTY.PAYLOAD_FORMAT_INDICATOR:
          p += 1
          break
        case PUBLISH_PROPERTY.MESSAGE_EXPIRY_INTERVAL:
          p += 4
          break
        case PUBLISH_PROPERTY.TOPIC_ALIAS:
          if (p + 2 > to) return this.fail('truncated Topic Alias')
          // MQTT 5 §2.2.2.2: it is a Protocol Error to include a property other than a User Property more than once.
          if (alias !== 0) return this.fail('PUBLISH with two Topic Aliases')
          alias = ((buf[p] as number) << 8) | (buf[p + 1] as number)
          if (alias === 0) return this.fail('Topic Alias 0 [MQTT-3.3.2-8]')
          p += 2
          break
        case PUBLISH_PROPERTY.CONTENT_TYPE:
        case PUBLISH_PROPERTY.RESPONSE_TOPIC:
        case PUBLISH_PROPERTY.CORRELATION_DATA:
          if (p + 2 > to) return this.fail('truncated PUBLISH property')
          p += 2 + (((buf[p] as number) << 8) | (buf[p + 1] as number))
          break
        case PUBLISH_PROPERTY.USER_PROPERTY:
          for (let s = 0; s < 2; s += 1) {
            if (p + 2 > to) return this.fail('truncated User Property')
            p += 2 + (((buf[p] as number) << 8) | (buf[p + 1] as number))
          }
          break
        case PUBLISH_PROPERTY.SUBSCRIPTION_IDENTIFIER: {
          for (let i = 1; ; i += 1) {
            if (p >= to) return this.fail('truncated Subscription Identifier')
            if (((buf[p++] as number) & 0x80) === 0) break
            if (i === 4) return this.fail('Subscription Identifier longer than four octets')
          }
          break
        }
        default:
          return this.fail('unknown PUBLISH property')
      }
    }
    return p === to ? alias : this.fail('PUBLISH properties overrun their length')
  }

  private fail(detail: string): number {
    this.detail = detail
    return HEAD_FAILED
  }
}

export const HEAD_DONE = 0
export const HEAD_FAILED = -1
