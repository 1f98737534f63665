/**
 * The few MQTT packets the authorization filters answer with themselves, hand-encoded (a handful
 * of bytes each; no parser or generator on the data path).
 *
 *  PUBACK / PUBREC / PUBCOMP (MQTT 3.1.1 §3.4-§3.7, MQTT 5 §3.4-§3.7)
 *  +-----------+------+-----------+-------------------------+
 *  | 0x40/0x50 | 0x02 | packet id |                         |   success, any version
 *  |      0x70 |      | u16       |                         |   (MQTT 5 §3.4.2.1: reason 0x00 and no
 *  +-----------+------+-----------+-------------------------+    properties may be left out)
 *  | 0x40/0x50 | 0x03 | packet id | reason code             |   MQTT 5 only; remaining length < 4
 *  +-----------+------+-----------+-------------------------+   means no property length (§3.4.2.2.1)
 */

/** MQTT control packet types: the high nibble of the first byte (MQTT 5 §2.1.2 Table 2-1). */
export const PACKET_TYPE = {
  PUBLISH: 3,
  PUBACK: 4,
  PUBREC: 5,
  PUBREL: 6,
  PUBCOMP: 7,
  SUBSCRIBE: 8,
  SUBACK: 9,
} as const

/** Names for details of PROTOCOL_ERROR ends, by packet type (constant strings: nothing built per packet). */
export const PACKET_NAMES = [
  'reserved packet', 'CONNECT', 'CONNACK', 'PUBLISH', 'PUBACK', 'PUBREC', 'PUBREL', 'PUBCOMP',
  'SUBSCRIBE', 'SUBACK', 'UNSUBSCRIBE', 'UNSUBACK', 'PINGREQ', 'PINGRESP', 'DISCONNECT', 'AUTH',
] as const

/** MQTT 5 §2.4 reason codes and the 3.1.1 SUBACK failure return code the filters send. */
export const REASON = {
  SUCCESS: 0x00,
  /** MQTT 5 PUBACK/PUBREC/SUBACK 0x87 Not authorized. */
  NOT_AUTHORIZED: 0x87,
  /** MQTT 3.1.1 §3.9.3 SUBACK return code 0x80 Failure (also what 3.1 clients get). */
  SUBACK_FAILURE_V3: 0x80,
} as const

/** MQTT 5 §2.2.2.2 Table 2-4: the PUBLISH property identifiers, by value type. */
export const PUBLISH_PROPERTY = {
  PAYLOAD_FORMAT_INDICATOR: 0x01, // byte
  MESSAGE_EXPIRY_INTERVAL: 0x02, // four byte integer
  CONTENT_TYPE: 0x03, // UTF-8 string
  RESPONSE_TOPIC: 0x08, // UTF-8 string
  CORRELATION_DATA: 0x09, // binary data
  SUBSCRIPTION_IDENTIFIER: 0x0b, // variable byte integer (broker → client, may repeat)
  TOPIC_ALIAS: 0x23, // two byte integer
  USER_PROPERTY: 0x26, // UTF-8 string pair
} as const

/** A PUBACK, PUBREC or PUBCOMP; `reasonCode` only for MQTT 5 and a code other than success. */
export function encodeAck(type: typeof PACKET_TYPE.PUBACK | typeof PACKET_TYPE.PUBREC | typeof PACKET_TYPE.PUBCOMP, packetId: number, reasonCode?: number): Buffer {
  const withReason = reasonCode !== undefined && reasonCode !== REASON.SUCCESS
  const out = Buffer.allocUnsafe(withReason ? 5 : 4)
  out[0] = type << 4
  out[1] = withReason ? 3 : 2
  out.writeUInt16BE(packetId, 2)
  if (withReason) out[4] = reasonCode
  return out
}

/** Octets of `value` as a Variable Byte Integer (MQTT 5 §1.5.5). */
export function varByteIntSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4
}

/** Writes `value` as a Variable Byte Integer at `offset`; answers the offset after it. */
export function writeVarByteInt(out: Buffer, offset: number, value: number): number {
  let rest = value
  let at = offset
  do {
    let byte = rest % 128
    rest = Math.floor(rest / 128)
    if (rest > 0) byte |= 0x80
    out[at++] = byte
  } while (rest > 0)
  return at
}

/** Largest Remaining Length a Variable Byte Integer can carry (MQTT 5 §1.5.5). */
export const MAX_REMAINING_LENGTH = 268_435_455
