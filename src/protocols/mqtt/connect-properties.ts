/**
 * Validation of the MQTT 5 property blocks of a CONNECT (§3.1.2.11) and of its Will (§3.1.3.2).
 * mqtt-packet decodes properties leniently (strings with U+FFFD, any property in any packet,
 * booleans from any octet), so the decoder checks them here first; what passes decodes and
 * re-encodes without loss.
 *
 *  property: identifier (VBI; all defined ones are < 0x80) | value of the identifier's type
 *  +------+----------------------------------------------------------------+
 *  | id   | byte (0|1) / u16 / u32 / UTF-8 string / binary / string pair    |
 *  +------+----------------------------------------------------------------+
 */
type PropertyType = 'flag' | 'u16' | 'u16-nonzero' | 'u32' | 'u32-nonzero' | 'utf8' | 'binary' | 'pair'

interface PropertySpec {
  readonly name: string
  readonly type: PropertyType
}

const USER_PROPERTY = 0x26

/** MQTT 5 §3.1.2.11: properties allowed in CONNECT. */
const CONNECT_PROPERTIES: ReadonlyMap<number, PropertySpec> = new Map([
  [0x11, { name: 'Session Expiry Interval', type: 'u32' }],
  [0x21, { name: 'Receive Maximum', type: 'u16-nonzero' }], // [MQTT-3.1.2.11.3]: 0 is a Protocol Error
  [0x27, { name: 'Maximum Packet Size', type: 'u32-nonzero' }], // §3.1.2.11.4: 0 is a Protocol Error
  [0x22, { name: 'Topic Alias Maximum', type: 'u16' }],
  [0x19, { name: 'Request Response Information', type: 'flag' }],
  [0x17, { name: 'Request Problem Information', type: 'flag' }],
  [USER_PROPERTY, { name: 'User Property', type: 'pair' }],
  [0x15, { name: 'Authentication Method', type: 'utf8' }],
  [0x16, { name: 'Authentication Data', type: 'binary' }],
])

/** MQTT 5 §3.1.3.2: properties allowed in the Will. */
const WILL_PROPERTIES: ReadonlyMap<number, PropertySpec> = new Map([
  [0x18, { name: 'Will Delay Interval', type: 'u32' }],
  [0x01, { name: 'Payload Format Indicator', type: 'flag' }],
  [0x02, { name: 'Message Expiry Interval', type: 'u32' }],
  [0x03, { name: 'Content Type', type: 'utf8' }],
  [0x08, { name: 'Response Topic', type: 'utf8' }],
  [0x09, { name: 'Correlation Data', type: 'binary' }],
  [USER_PROPERTY, { name: 'User Property', type: 'pair' }],
])

const MAXIMUM_PACKET_SIZE = 0x27
const AUTHENTICATION_METHOD = 0x15
const AUTHENTICATION_DATA = 0x16

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** undefined when the block is valid, else what is wrong with it. */
/** What the check reads on its way for the caller: the CONNECT's Maximum Packet Size (§3.1.2.11.4). */
export interface PropertyFacts {
  maximumPacketSize?: number
}

export function checkProperties(block: Buffer, context: 'connect' | 'will', facts?: PropertyFacts): string | undefined {
  const specs = context === 'connect' ? CONNECT_PROPERTIES : WILL_PROPERTIES
  const seen = new Set<number>()
  let pos = 0
  while (pos < block.length) {
    const id = block[pos] ?? 0
    const spec = specs.get(id)
    if (!spec) return `property 0x${id.toString(16)} is not allowed in ${context} properties`
    // MQTT 5 §2.2.2.2: only User Property may appear more than once in these blocks.
    if (id !== USER_PROPERTY && seen.has(id)) return `property ${spec.name} appears more than once`
    seen.add(id)
    const size = valueSize(block, pos + 1, spec)
    if (typeof size === 'string') return size
    if (id === MAXIMUM_PACKET_SIZE && facts !== undefined && context === 'connect') facts.maximumPacketSize = block.readUInt32BE(pos + 1)
    pos += 1 + size
  }
  if (seen.has(AUTHENTICATION_DATA) && !seen.has(AUTHENTICATION_METHOD)) {
    return 'Authentication Data without Authentication Method' // §3.1.2.11.10
  }
  return undefined
}

/** Size of the value at `at`, or what is wrong with it. */
function valueSize(block: Buffer, at: number, spec: PropertySpec): number | string {
  const left = block.length - at
  switch (spec.type) {
    case 'flag':
      if (left < 1) return `truncated ${spec.name}`
      return block[at] === 0 || block[at] === 1 ? 1 : `${spec.name} is not 0 or 1`
    case 'u16':
    case 'u16-nonzero':
      if (left < 2) return `truncated ${spec.name}`
      return spec.type === 'u16-nonzero' && block.readUInt16BE(at) === 0 ? `${spec.name} is 0` : 2
    case 'u32':
    case 'u32-nonzero':
      if (left < 4) return `truncated ${spec.name}`
      return spec.type === 'u32-nonzero' && block.readUInt32BE(at) === 0 ? `${spec.name} is 0` : 4
    case 'binary':
      return lengthPrefixed(block, at, spec.name, false)
    case 'utf8':
      return lengthPrefixed(block, at, spec.name, true)
    case 'pair': {
      const key = lengthPrefixed(block, at, spec.name, true)
      if (typeof key === 'string') return key
      const value = lengthPrefixed(block, at + key, spec.name, true)
      return typeof value === 'string' ? value : key + value
    }
  }
}

function lengthPrefixed(block: Buffer, at: number, name: string, utf8: boolean): number | string {
  if (block.length - at < 2) return `truncated ${name}`
  const length = block.readUInt16BE(at)
  if (block.length - at - 2 < length) return `truncated ${name}`
  if (utf8 && !isMqttUtf8(block.subarray(at + 2, at + 2 + length))) return `${name} is not a valid UTF-8 string`
  return 2 + length
}

/** MQTT 5 §1.5.4: well-formed UTF-8 [MQTT-1.5.4-1] without U+0000 [MQTT-1.5.4-2]. */
export function isMqttUtf8(bytes: Buffer): boolean {
  try {
    return !strictUtf8.decode(bytes).includes('\u0000')
  } catch {
    return false
  }
}
