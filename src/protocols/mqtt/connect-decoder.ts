/**
 * Incremental, capped reader for the first MQTT packet of a connection, which must be CONNECT.
 *
 *  fixed header (MQTT 5 §2.1.1, MQTT 3.1.1 §2.2)          body (see connect-layout.ts)
 *  +---------------+---------------+-------------------+  +------------------------------------+
 *  | type 1 | 0000 | remaining length, VBI 1..4 bytes  |  | variable header + payload          |
 *  | 0x10          | [MQTT-1.5.5-1]                    |  | exactly `remaining length` bytes   |
 *  +---------------+-----------------------------------+  +------------------------------------+
 *
 * Guarantees: pure (no I/O, no logging, no policy); never throws on any input; refuses a packet
 * whose total size (fixed header + remaining length) exceeds `maxBytes` as soon as the remaining
 * length is known, before buffering its body; holds at most `maxBytes` bytes.
 *
 * The structure and properties are checked, and the fields the gateway decides on read, by one
 * walk (connect-layout.ts). mqtt-packet's decoding of the same bytes, cross-checked against the
 * walk, is made only when something needs mqtt-packet's object: re-encoding the CONNECT with other
 * credentials (stages/forward.ts). A CONNECT forwarded as it came needs neither: the broker gets
 * the very bytes the walk read (docs/benchmarks.md, "The CONNECT is read once": that second
 * decoding and the re-encoding that checked it were 12 % of what V8 allocated per MQTT connection).
 */
import type { IConnectPacket, Packet } from 'mqtt-packet'
import { checkConnectLayout, sniffProtocolVersion } from './connect-layout'
import type { ConnectLayout, LayoutRefusal, ProtocolVersion } from './connect-layout'
import { encodeConnect } from './connect-encoder'
import { leanParser } from './lean-parser'
import { readVarByteInt } from './var-byte-int'

export type { ProtocolVersion } from './connect-layout'

export interface ConnectInfo {
  readonly protocolVersion: ProtocolVersion
  readonly clientId: string
  readonly username?: string
  readonly password?: Buffer
  readonly keepalive: number
  readonly clean: boolean
  /** The Will's topic, when the CONNECT has a Will. */
  readonly willTopic?: string
  /** MQTT 5 Maximum Packet Size (§3.1.2.11.4), when the client set one. */
  readonly maximumPacketSize?: number
  /**
   * mqtt-packet's object for the same bytes, for re-encoding with connect-encoder.ts: decoded on
   * the first call and cross-checked against the walk; a string says why it could not be.
   */
  mqttPacket(): IConnectPacket | string
}

/**
 * `refusal` names the CONNACK the caller should answer with (connack.ts); `protocolVersion`, when
 * present, is the format to answer in. Without it the caller can only close.
 */
export type ConnectReadError = {
  readonly kind: 'error'
  readonly reason: 'PROTOCOL_ERROR'
  readonly refusal: LayoutRefusal | 'PACKET_TOO_LARGE'
  readonly detail: string
  readonly protocolVersion?: ProtocolVersion
}

export type ConnectReadResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'connect'; readonly packet: ConnectInfo; readonly raw: Buffer; readonly rest: Buffer }
  | ConnectReadError

/**
 * How many body octets name a CONNECT's version: the protocol name (u16 length + "MQTT", or 3.1's
 * "MQIsdp") and the level. A longer name is no MQTT at all: two octets, then refused unversioned.
 */
function versionOctets(start: Buffer): number {
  if (start.length < 2) return 2
  const nameLength = start.readUInt16BE(0)
  return nameLength === 4 || nameLength === 6 ? 2 + nameLength + 1 : 2
}

/** CONNECT = packet type 1 with all four flag bits zero [MQTT-2.2.2-1], [MQTT-2.2.2-2]. */
const CONNECT_FIRST_BYTE = 0x10

export class ConnectReader {
  private readonly chunks: Buffer[] = []
  private buffered = 0
  /** Total packet size once the remaining length has been read. */
  private packetSize: number | undefined
  private finished = false

  constructor(private readonly maxBytes: number) {}

  push(chunk: Buffer): ConnectReadResult {
    if (this.finished) return this.fail('PROTOCOL_ERROR', 'ConnectReader already returned its result')
    if (chunk.length === 0) return { kind: 'need-more' }
    this.chunks.push(chunk)
    this.buffered += chunk.length
    const head = this.peek(5)
    if (head[0] !== CONNECT_FIRST_BYTE) {
      // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
      return this.fail('PROTOCOL_ERROR', `first packet is not CONNECT (byte 0x${hex(head[0] ?? 0)})`)
    }
    if (this.packetSize === undefined) {
      const length = readVarByteInt(head, 1)
      if (length.kind === 'need-more') return { kind: 'need-more' }
      if (length.kind === 'error') return this.fail('PROTOCOL_ERROR', `remaining length: ${length.detail}`)
      const size = 1 + length.length + length.value
      if (size > this.maxBytes) {
        // Refused before its body is buffered, but answered in the client's version [MQTT-3.2.2-6]:
        // wait for the few octets that name it (protocol name and level), whatever the chunking.
        const versionEnd = 1 + length.length + versionOctets(this.peek(1 + length.length + 2).subarray(1 + length.length))
        if (this.buffered < versionEnd) return { kind: 'need-more' }
        const body = this.peek(versionEnd).subarray(1 + length.length)
        return this.fail('PACKET_TOO_LARGE', `CONNECT of ${size} bytes exceeds ${this.maxBytes}`, body)
      }
      this.packetSize = size
    }
    if (this.buffered < this.packetSize) return { kind: 'need-more' }
    return this.complete(this.packetSize)
  }

  private complete(size: number): ConnectReadResult {
    this.finished = true
    const all = this.chunks.length === 1 && this.chunks[0] ? this.chunks[0] : Buffer.concat(this.chunks)
    this.chunks.length = 0
    const raw = all.subarray(0, size)
    const rest = all.subarray(size)
    const bodyStart = size - bodyLength(raw)
    return decodeConnect(raw, raw.subarray(bodyStart), rest)
  }

  /** The first `n` buffered bytes (fewer if not yet received), without consuming them. */
  private peek(n: number): Buffer {
    const first = this.chunks[0]
    if (first && (first.length >= n || this.chunks.length === 1)) return first.subarray(0, n)
    return Buffer.concat(this.chunks).subarray(0, n)
  }

  private fail(refusal: ConnectReadError['refusal'], detail: string, body?: Buffer): ConnectReadError {
    this.finished = true
    this.chunks.length = 0
    const version = body ? sniffProtocolVersion(body) : undefined
    return errorResult(refusal, detail, version)
  }
}

function bodyLength(raw: Buffer): number {
  const length = readVarByteInt(raw, 1)
  return length.kind === 'ok' ? length.value : 0
}

function errorResult(
  refusal: ConnectReadError['refusal'],
  detail: string,
  protocolVersion: ProtocolVersion | undefined,
): ConnectReadError {
  return protocolVersion === undefined
    ? { kind: 'error', reason: 'PROTOCOL_ERROR', refusal, detail }
    : { kind: 'error', reason: 'PROTOCOL_ERROR', refusal, detail, protocolVersion }
}

function decodeConnect(raw: Buffer, body: Buffer, rest: Buffer): ConnectReadResult {
  const checked = checkConnectLayout(body)
  if (!checked.ok) return errorResult(checked.refusal, checked.detail, checked.protocolVersion)
  return { kind: 'connect', packet: toConnectInfo(checked.layout, raw), raw, rest }
}

/** mqtt-packet's decoding of `raw`, or why it failed or disagrees with the walk's `layout`. */
function decodeWithMqttPacket(raw: Buffer, layout: ConnectLayout): IConnectPacket | string {
  const parsed = parseWithMqttPacket(raw)
  if (typeof parsed === 'string') return parsed
  return crossCheck(parsed, layout, raw) ?? parsed
}

/** Decodes one complete CONNECT with mqtt-packet; a string is the reason it failed. */
function parseWithMqttPacket(raw: Buffer): IConnectPacket | string {
  const parser = leanParser()
  const packets: Packet[] = []
  let failure: string | undefined
  parser.on('packet', (p: Packet) => packets.push(p))
  parser.on('error', (err: unknown) => {
    failure ??= err instanceof Error ? err.message : 'mqtt-packet error'
  })
  try {
    parser.parse(raw)
  } catch (err) {
    // mqtt-packet can throw on some truncated properties (e.g. a half user property).
    failure ??= err instanceof Error ? `malformed properties (${err.message})` : 'malformed properties'
  }
  const packet = packets[0]
  if (failure !== undefined) return failure
  if (packets.length !== 1 || packet?.cmd !== 'connect') return 'CONNECT did not decode to one packet'
  return packet
}

/**
 * mqtt-packet reads fields against the whole buffer rather than the declared lengths, so its result
 * is compared with the independent walk, and it must re-encode to the same size: only then is what
 * encodeConnect makes of it the client's CONNECT with other credentials.
 */
function crossCheck(packet: IConnectPacket, layout: ConnectLayout, raw: Buffer): string | undefined {
  const sameCredentials =
    packet.username === layout.username &&
    (layout.password === undefined ? packet.password === undefined : packet.password?.equals(layout.password) === true)
  if (packet.clientId !== layout.clientId || !sameCredentials) return 'CONNECT fields disagree with their lengths'
  try {
    if (encodeConnect(sizeTwin(packet), {}).length !== raw.length) return 'CONNECT does not re-encode to its own size'
  } catch {
    return 'CONNECT cannot be re-encoded'
  }
  return undefined
}

/**
 * The packet to measure the re-encoding with. mqtt-packet 9 refuses to generate an empty client id
 * with CleanStart 0 even in 5.0, where it is valid (MQTT 5 §3.1.3.1, the broker assigns one); the
 * Clean Start bit changes no length, so that CONNECT is measured with the bit set.
 */
function sizeTwin(packet: IConnectPacket): IConnectPacket {
  return packet.protocolVersion === 5 && packet.clientId === '' && packet.clean !== true ? { ...packet, clean: true } : packet
}

function toConnectInfo(layout: ConnectLayout, raw: Buffer): ConnectInfo {
  let decoded: IConnectPacket | string | undefined
  return {
    protocolVersion: layout.protocolVersion,
    clientId: layout.clientId,
    ...(layout.username !== undefined ? { username: layout.username } : {}),
    ...(layout.password !== undefined ? { password: layout.password } : {}),
    keepalive: layout.keepalive,
    clean: layout.clean,
    ...(layout.willTopic !== undefined ? { willTopic: layout.willTopic } : {}),
    ...(layout.maximumPacketSize !== undefined ? { maximumPacketSize: layout.maximumPacketSize } : {}),
    mqttPacket: () => (decoded ??= decodeWithMqttPacket(raw, layout)),
  }
}

function hex(byte: number): string {
  return byte.toString(16).padStart(2, '0')
}
