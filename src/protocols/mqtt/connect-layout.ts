/**
 * Structural walk of an MQTT CONNECT body (everything after the fixed header), independent of
 * mqtt-packet: it proves that the fields the Connect Flags announce are present, well-formed and
 * account for exactly the Remaining Length, and it reads the protocol level even when the rest is
 * broken, so the caller can answer in the client's own CONNACK format.
 *
 *  variable header (MQTT 3.1.1 §3.1.2, MQTT 5 §3.1.2)
 *  +-------------------+-------+-------+-----------+----------------------+
 *  | protocol name     | level | flags | keepalive | properties (5.0)     |
 *  | u16 len + "MQTT"  | 1 B   | 1 B   | u16       | VBI len + properties |
 *  | or "MQIsdp" (3.1) | 3/4/5 |       |           |                      |
 *  +-------------------+-------+-------+-----------+----------------------+
 *  payload (§3.1.3), in this order, each present only when its flag says so
 *  +-----------+-------------------------------------------+----------+----------+
 *  | client id | will: properties (5.0), topic, payload    | username | password |
 *  | u16+UTF-8 | VBI+props, u16+UTF-8, u16+bytes           | u16+UTF8 | u16+bytes|
 *  +-----------+-------------------------------------------+----------+----------+
 *  connect flags: 7 username | 6 password | 5 will retain | 4-3 will QoS | 2 will | 1 clean | 0 reserved
 */

import { checkProperties, isMqttUtf8, type PropertyFacts } from './connect-properties'
import { readVarByteInt } from './var-byte-int'

export type ProtocolVersion = 3 | 4 | 5

/** What the CONNECT walk can ask the caller to answer with (see connack.ts). */
export type LayoutRefusal = 'PROTOCOL_ERROR' | 'UNSUPPORTED_VERSION' | 'CLIENT_ID_REJECTED'

export interface ConnectLayout {
  readonly protocolVersion: ProtocolVersion
  readonly keepalive: number
  readonly clean: boolean
  readonly clientId: string
  /** The Will's topic, when the CONNECT has a Will. */
  readonly willTopic: string | undefined
  readonly username: string | undefined
  readonly password: Buffer | undefined
  /** MQTT 5 Maximum Packet Size (§3.1.2.11.4), when the client set one. */
  readonly maximumPacketSize: number | undefined
}

export type LayoutResult =
  | { readonly ok: true; readonly layout: ConnectLayout }
  | {
      readonly ok: false
      readonly refusal: LayoutRefusal
      readonly detail: string
      readonly protocolVersion?: ProtocolVersion
    }

const FLAG_USERNAME = 0x80
const FLAG_PASSWORD = 0x40
const FLAG_WILL_RETAIN = 0x20
const FLAG_WILL_QOS = 0x18
const FLAG_WILL = 0x04
const FLAG_CLEAN = 0x02
const FLAG_RESERVED = 0x01
/** Mosquitto's bridge extension sets the top bit of the level; the level itself is the low bits. */
const BRIDGE_BIT = 0x80

/** Thrown only inside this module and caught by checkConnectLayout: a malformed field. */
class Malformed extends Error {}

/**
 * The protocol version a CONNECT body claims, if its protocol name and level can be read:
 * 'MQIsdp' + 3 is 3.1, 'MQTT' + 4 is 3.1.1, 'MQTT' + 5 is 5.0 (MQTT 5 §3.1.2.1-2).
 */
export function sniffProtocolVersion(body: Buffer): ProtocolVersion | undefined {
  if (body.length < 2) return undefined
  const nameLength = body.readUInt16BE(0)
  if (body.length < 2 + nameLength + 1) return undefined
  const name = body.toString('latin1', 2, 2 + nameLength)
  const level = (body[2 + nameLength] ?? 0) & ~BRIDGE_BIT
  if (name === 'MQIsdp' && level === 3) return 3
  if (name === 'MQTT' && (level === 4 || level === 5)) return level
  return undefined
}

export function checkConnectLayout(body: Buffer): LayoutResult {
  const sniffed = sniffProtocolVersion(body)
  try {
    return walk(body)
  } catch (err) {
    const detail = err instanceof Malformed ? err.message : 'malformed CONNECT'
    return sniffed === undefined
      ? { ok: false, refusal: 'PROTOCOL_ERROR', detail }
      : { ok: false, refusal: 'PROTOCOL_ERROR', detail, protocolVersion: sniffed }
  }
}

function walk(body: Buffer): LayoutResult {
  const cursor = new Cursor(body)
  const name = cursor.bytes(cursor.u16(), 'protocol name').toString('latin1')
  if (name !== 'MQTT' && name !== 'MQIsdp') {
    // [MQTT-3.1.2-1]: a wrong protocol name may be answered by closing without a CONNACK.
    return { ok: false, refusal: 'PROTOCOL_ERROR', detail: `unknown protocol name ${JSON.stringify(name)}` }
  }
  const level = cursor.u8('protocol level') & ~BRIDGE_BIT
  const version = sniffProtocolVersion(body)
  if (version === undefined) {
    // [MQTT-3.1.2-2]: an unsupported level gets CONNACK 0x01 (3.1.1 format, 4 bytes), which any
    // client version can read; MQTT 5 §3.1.2.2 allows the same.
    return {
      ok: false,
      refusal: 'UNSUPPORTED_VERSION',
      detail: `unsupported protocol level ${level} for ${name}`,
      protocolVersion: 4,
    }
  }
  const flags = cursor.u8('connect flags')
  checkFlags(flags, version)
  const keepalive = cursor.u16()
  const facts: PropertyFacts = {}
  if (version === 5) cursor.properties('connect', facts)
  const clientId = cursor.utf8('client identifier')
  let willTopic: string | undefined
  if (flags & FLAG_WILL) {
    if (version === 5) cursor.properties('will')
    willTopic = cursor.utf8('will topic')
    // [MQTT-4.7.3-1] a Topic Name has at least one character.
    if (willTopic === '') throw new Malformed('empty will topic')
    cursor.bytes(cursor.u16(), 'will payload')
  }
  const username = flags & FLAG_USERNAME ? cursor.utf8('user name') : undefined
  const password = flags & FLAG_PASSWORD ? Buffer.from(cursor.bytes(cursor.u16(), 'password')) : undefined
  if (!cursor.atEnd()) throw new Malformed(`${cursor.remaining()} bytes after the CONNECT payload`)

  if (clientId === '' && emptyClientIdRefused(version, (flags & FLAG_CLEAN) !== 0)) {
    return {
      ok: false,
      refusal: 'CLIENT_ID_REJECTED',
      detail: version === 3 ? 'empty client identifier (MQTT 3.1 requires one)' : 'empty client identifier without a clean session',
      protocolVersion: version,
    }
  }
  return {
    ok: true,
    layout: { protocolVersion: version, keepalive, clean: (flags & FLAG_CLEAN) !== 0, clientId, willTopic, username, password, maximumPacketSize: facts.maximumPacketSize },
  }
}

/**
 * Whether a zero-length client id is refused: MQTT 3.1 requires one; in 3.1.1 it needs
 * CleanSession 1 [MQTT-3.1.3-7], else CONNACK 0x02 [MQTT-3.1.3-8]; in 5.0 the Server assigns one
 * whatever CleanStart says (§3.1.3.1 [MQTT-3.1.3-6], returned as Assigned Client Identifier,
 * §3.2.2.3.7), so the gateway leaves that to the broker.
 */
function emptyClientIdRefused(version: ProtocolVersion, clean: boolean): boolean {
  switch (version) {
    case 3: return true
    case 4: return !clean
    case 5: return false
  }
}

function checkFlags(flags: number, version: ProtocolVersion): void {
  // [MQTT-3.1.2-3] the reserved flag must be zero.
  if (flags & FLAG_RESERVED) throw new Malformed('reserved connect flag is set')
  const willQos = (flags & FLAG_WILL_QOS) >> 3
  if (willQos === 3) throw new Malformed('will QoS 3') // [MQTT-3.1.2-14]
  if (!(flags & FLAG_WILL) && (willQos !== 0 || flags & FLAG_WILL_RETAIN)) {
    throw new Malformed('will QoS or retain set without a will') // [MQTT-3.1.2-11], [MQTT-3.1.2-15]
  }
  // [MQTT-3.1.2-22] in 3.1/3.1.1 a password needs a user name; MQTT 5 §3.1.2.9 lifted that.
  if (version !== 5 && flags & FLAG_PASSWORD && !(flags & FLAG_USERNAME)) {
    throw new Malformed('password flag without user name flag')
  }
}

class Cursor {
  private pos = 0
  constructor(private readonly buf: Buffer) {}

  atEnd(): boolean {
    return this.pos === this.buf.length
  }

  remaining(): number {
    return this.buf.length - this.pos
  }

  u8(what: string): number {
    const value = this.buf[this.pos]
    if (value === undefined) throw new Malformed(`truncated ${what}`)
    this.pos += 1
    return value
  }

  u16(): number {
    if (this.remaining() < 2) throw new Malformed('truncated two-byte integer')
    const value = this.buf.readUInt16BE(this.pos)
    this.pos += 2
    return value
  }

  bytes(length: number, what: string): Buffer {
    if (this.remaining() < length) throw new Malformed(`truncated ${what}`)
    const slice = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return slice
  }

  /** UTF-8 Encoded String (MQTT 5 §1.5.4): well-formed, no U+0000 [MQTT-1.5.4-1], [MQTT-1.5.4-2]. */
  utf8(what: string): string {
    const raw = this.bytes(this.u16(), what)
    if (!isMqttUtf8(raw)) throw new Malformed(`${what} is not a valid UTF-8 string`)
    return raw.toString('utf8')
  }

  /** A property block: VBI length (MQTT 5 §2.2.2.1), then properties checked by connect-properties.ts. */
  properties(context: 'connect' | 'will', facts?: PropertyFacts): void {
    const what = `${context} properties`
    const problem = checkProperties(this.bytes(this.varByteInt(what), what), context, facts)
    if (problem !== undefined) throw new Malformed(problem)
  }

  /** Variable Byte Integer, at most four bytes [MQTT-1.5.5-1]. */
  private varByteInt(what: string): number {
    const result = readVarByteInt(this.buf, this.pos)
    if (result.kind === 'need-more') throw new Malformed(`truncated ${what} length`)
    if (result.kind === 'error') throw new Malformed(`${what}: ${result.detail}`)
    this.pos += result.length
    return result.value
  }
}
