/**
 * Refusal CONNACKs and the MQTT 5 server DISCONNECT.
 *
 *  CONNACK 3.1 / 3.1.1 (§3.2)             CONNACK 5.0 (MQTT 5 §3.2)
 *  +------+------+-------+--------+       +------+---------+-------+--------+----------------------+
 *  | 0x20 | 0x02 | flags | return |       | 0x20 | rem.len | flags | reason | props: VBI len,      |
 *  |      |      | 0x00  | code   |       |      | VBI     | 0x00  | code   | [0x1F u16 UTF-8 str] |
 *  +------+------+-------+--------+       +------+---------+-------+--------+----------------------+
 *  Session Present is 0 on every refusal [MQTT-3.2.2-6] / MQTT 5 [MQTT-3.2.2-6].
 *
 *  DISCONNECT 5.0 (MQTT 5 §3.14)
 *  +------+---------+--------+------------------------------+
 *  | 0xE0 | rem.len | reason | props: VBI len [0x1F string] |
 *  +------+---------+--------+------------------------------+
 */
import { assertNever } from '../../errors'
import type { ProtocolVersion } from './connect-layout'
import { encodeVarByteInt } from './var-byte-int'

export type ConnackRefusal =
  | 'BAD_CREDENTIALS'
  | 'NOT_AUTHORIZED'
  | 'BANNED'
  | 'SERVER_UNAVAILABLE'
  | 'PROTOCOL_ERROR'
  | 'UNSUPPORTED_VERSION'
  | 'CLIENT_ID_REJECTED'
  | 'PACKET_TOO_LARGE'

/** MQTT 3.1.1 §3.2.2.3 Table 3.1 (3.1 uses the same codes). */
export const CONNACK_RETURN_CODES_V3 = {
  UNACCEPTABLE_PROTOCOL_VERSION: 0x01,
  IDENTIFIER_REJECTED: 0x02,
  SERVER_UNAVAILABLE: 0x03,
  BAD_USER_NAME_OR_PASSWORD: 0x04,
  NOT_AUTHORIZED: 0x05,
} as const

/** MQTT 5 §3.2.2.2 Table 3-1, the codes Portcullis sends. */
export const CONNACK_REASON_CODES_V5 = {
  MALFORMED_PACKET: 0x81,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_IDENTIFIER_NOT_VALID: 0x85,
  BAD_USER_NAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  BANNED: 0x8a,
  PACKET_TOO_LARGE: 0x95,
} as const

/** MQTT 5 §3.14.2.1 Table 3-10, the server-sent codes Portcullis uses. */
export const DISCONNECT_REASON_CODES_V5 = {
  /** 0x80 Unspecified error: the broker went away (reason string BACKEND_UNAVAILABLE). */
  UNSPECIFIED_ERROR: 0x80,
  NOT_AUTHORIZED: 0x87,
  /** MQTT 5 §3.14.2.1 0x89 Server busy: the client may come back later. */
  SERVER_BUSY: 0x89,
  SERVER_SHUTTING_DOWN: 0x8b,
  ADMINISTRATIVE_ACTION: 0x98,
} as const

export type DisconnectReasonCode = (typeof DISCONNECT_REASON_CODES_V5)[keyof typeof DISCONNECT_REASON_CODES_V5]

const REASON_STRING_PROPERTY = 0x1f
/** Keep refusal texts short: they are for humans and must fit any client's Maximum Packet Size. */
const MAX_REASON_STRING_BYTES = 256

/** 3.x return code, or undefined when 3.x has none and the server must just close. */
function returnCodeV3(refusal: ConnackRefusal): number | undefined {
  switch (refusal) {
    case 'BAD_CREDENTIALS':
      return CONNACK_RETURN_CODES_V3.BAD_USER_NAME_OR_PASSWORD
    case 'NOT_AUTHORIZED':
    case 'BANNED': // 3.x has no "banned"; not authorized is the closest.
      return CONNACK_RETURN_CODES_V3.NOT_AUTHORIZED
    case 'SERVER_UNAVAILABLE':
      return CONNACK_RETURN_CODES_V3.SERVER_UNAVAILABLE
    case 'UNSUPPORTED_VERSION':
      return CONNACK_RETURN_CODES_V3.UNACCEPTABLE_PROTOCOL_VERSION
    case 'CLIENT_ID_REJECTED':
      return CONNACK_RETURN_CODES_V3.IDENTIFIER_REJECTED
    case 'PROTOCOL_ERROR':
    case 'PACKET_TOO_LARGE':
      // [MQTT-4.8.0-1]: on a malformed packet a 3.1.1 server closes the connection; there is no code.
      return undefined
    default:
      return assertNever(refusal, 'CONNACK refusal')
  }
}

function reasonCodeV5(refusal: ConnackRefusal): number {
  switch (refusal) {
    case 'BAD_CREDENTIALS':
      return CONNACK_REASON_CODES_V5.BAD_USER_NAME_OR_PASSWORD
    case 'NOT_AUTHORIZED':
      return CONNACK_REASON_CODES_V5.NOT_AUTHORIZED
    case 'BANNED':
      return CONNACK_REASON_CODES_V5.BANNED
    case 'SERVER_UNAVAILABLE':
      return CONNACK_REASON_CODES_V5.SERVER_UNAVAILABLE
    case 'PROTOCOL_ERROR':
      return CONNACK_REASON_CODES_V5.MALFORMED_PACKET
    case 'UNSUPPORTED_VERSION':
      return CONNACK_REASON_CODES_V5.UNSUPPORTED_PROTOCOL_VERSION
    case 'CLIENT_ID_REJECTED':
      return CONNACK_REASON_CODES_V5.CLIENT_IDENTIFIER_NOT_VALID
    case 'PACKET_TOO_LARGE':
      return CONNACK_REASON_CODES_V5.PACKET_TOO_LARGE
    default:
      return assertNever(refusal, 'CONNACK refusal')
  }
}

/**
 * The refusal CONNACK in the client's protocol version, or undefined when that version has no
 * code for it (3.x and a malformed/too large packet) and the caller should close without one.
 * The Reason String goes only into MQTT 5 packets, and is left out if the packet would exceed the
 * client's Maximum Packet Size [MQTT-3.2.2-19].
 */
export function encodeConnack(
  protocolVersion: ProtocolVersion,
  refusal: ConnackRefusal,
  reasonString?: string,
  maximumPacketSize?: number,
): Buffer | undefined {
  if (protocolVersion !== 5) {
    const code = returnCodeV3(refusal)
    return code === undefined ? undefined : Buffer.from([0x20, 0x02, 0x00, code])
  }
  const head = Buffer.from([0x00, reasonCodeV5(refusal)]) // flags: Session Present 0
  return withReasonString(0x20, head, reasonString, maximumPacketSize)
}

/**
 * Server-initiated DISCONNECT (MQTT 5 §3.14); undefined for 3.x, where only the client sends
 * DISCONNECT and the server just closes the connection.
 */
export function encodeDisconnect(
  protocolVersion: ProtocolVersion,
  reasonCode: DisconnectReasonCode,
  reasonString?: string,
  maximumPacketSize?: number,
): Buffer | undefined {
  if (protocolVersion !== 5) return undefined
  return withReasonString(0xe0, Buffer.from([reasonCode]), reasonString, maximumPacketSize)
}

function withReasonString(
  firstByte: number,
  head: Buffer,
  reasonString: string | undefined,
  maximumPacketSize: number | undefined,
): Buffer {
  const bare = packet(firstByte, head, Buffer.from([0x00]))
  if (reasonString === undefined || reasonString === '') return bare
  const text = truncateUtf8(reasonString.replaceAll('\u0000', ''), MAX_REASON_STRING_BYTES)
  const property = Buffer.alloc(3 + text.length)
  property.writeUInt8(REASON_STRING_PROPERTY, 0)
  property.writeUInt16BE(text.length, 1)
  text.copy(property, 3)
  const full = packet(firstByte, head, Buffer.concat([encodeVarByteInt(property.length), property]))
  return maximumPacketSize !== undefined && full.length > maximumPacketSize ? bare : full
}

function packet(firstByte: number, head: Buffer, properties: Buffer): Buffer {
  const body = Buffer.concat([head, properties])
  return Buffer.concat([Buffer.from([firstByte]), encodeVarByteInt(body.length), body])
}

/** At most `max` bytes of UTF-8, cut on a character boundary. */
function truncateUtf8(text: string, max: number): Buffer {
  const bytes = Buffer.from(text, 'utf8')
  if (bytes.length <= max) return bytes
  let end = max
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end -= 1
  return bytes.subarray(0, end)
}
