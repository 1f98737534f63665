import t from 'tap'
import mqttPacket from 'mqtt-packet'
import { ConnectReader } from '../../src/protocols/mqtt/connect-decoder'
import type { ConnectReadResult } from '../../src/protocols/mqtt/connect-decoder'
import { bytes, str16 } from './fixture-bytes'
import { mqttPacketOf } from './mqtt-packet-of'

const MAX = 4096

function readAll(input: Buffer, max = MAX): ConnectReadResult {
  return new ConnectReader(max).push(input)
}

function readByteByByte(input: Buffer, max = MAX): ConnectReadResult {
  const reader = new ConnectReader(max)
  let result: ConnectReadResult = { kind: 'need-more' }
  for (const byte of input) {
    result = reader.push(Buffer.from([byte]))
    if (result.kind !== 'need-more') break
  }
  return result
}

const V311_MINIMAL = bytes(
  0x10, 0x0f, //                 CONNECT, remaining length 15
  0x00, 0x04, 'MQTT', //          protocol name
  0x04, //                        level 4 = 3.1.1
  0x02, //                        flags: clean session
  0x00, 0x3c, //                  keepalive 60
  0x00, 0x03, 'abc', //           client id
)

const V311_CREDENTIALS = bytes(
  0x10, 0x1b, //                 remaining length 27
  0x00, 0x04, 'MQTT', 0x04,
  0xc2, //                        flags: username | password | clean
  0x00, 0x3c,
  0x00, 0x03, 'abc',
  0x00, 0x04, 'user', //          user name
  0x00, 0x04, 'pass', //          password
)

const V31 = bytes(
  0x10, 0x11, //                 remaining length 17
  0x00, 0x06, 'MQIsdp', //        3.1 protocol name
  0x03, //                        level 3
  0x02, 0x00, 0x3c,
  0x00, 0x03, 'abc',
)

const V5_PROPERTIES = bytes(
  0x10, 0x15, //                 remaining length 21
  0x00, 0x04, 'MQTT', 0x05, //    level 5
  0x02, 0x00, 0x3c,
  0x05, //                        properties length 5
  0x11, 0x00, 0x00, 0x00, 0x78, //  0x11 Session Expiry Interval = 120
  0x00, 0x03, 'abc',
)

const V5_PASSWORD_ONLY = bytes(
  0x10, 0x16, //                 remaining length 22
  0x00, 0x04, 'MQTT', 0x05,
  0x42, //                        flags: password | clean (no user name: allowed in 5.0 §3.1.2.9)
  0x00, 0x3c,
  0x00, //                        no properties
  0x00, 0x03, 'abc',
  0x00, 0x04, 'pass',
)

t.test('decodes well-formed CONNECT packets of every version', async (t) => {
  const cases = [
    { name: '3.1.1 minimal', input: V311_MINIMAL, version: 4, username: undefined, password: undefined },
    { name: '3.1.1 with credentials', input: V311_CREDENTIALS, version: 4, username: 'user', password: 'pass' },
    { name: '3.1 (MQIsdp)', input: V31, version: 3, username: undefined, password: undefined },
    { name: '5.0 with properties', input: V5_PROPERTIES, version: 5, username: undefined, password: undefined },
    { name: '5.0 password without user name', input: V5_PASSWORD_ONLY, version: 5, username: undefined, password: 'pass' },
  ] as const
  for (const c of cases) {
    for (const [how, result] of [['whole', readAll(c.input)], ['byte by byte', readByteByByte(c.input)]] as const) {
      if (result.kind !== 'connect') {
        t.fail(`${c.name} (${how}): ${JSON.stringify(result)}`)
        continue
      }
      t.equal(result.packet.protocolVersion, c.version, `${c.name} (${how}) version`)
      t.equal(result.packet.clientId, 'abc', `${c.name} client id`)
      t.equal(result.packet.keepalive, 60, `${c.name} keepalive`)
      t.equal(result.packet.clean, true, `${c.name} clean`)
      t.equal(result.packet.username, c.username, `${c.name} username`)
      t.equal(result.packet.password?.toString(), c.password, `${c.name} password`)
      t.same(result.raw, c.input, `${c.name} raw is the exact packet`)
      t.equal(result.rest.length, 0, `${c.name} nothing after`)
    }
  }
  const v5 = readAll(V5_PROPERTIES)
  t.equal(v5.kind === 'connect' && mqttPacketOf(v5.packet).properties?.sessionExpiryInterval, 120, '5.0 session expiry property')
})

/** A CONNECT with an empty client id: `version` 3, 4 or 5, `flags` the Connect Flags octet. */
function emptyClientId(version: 3 | 4 | 5, flags: number): Buffer {
  const head = version === 3 ? bytes(0x00, 0x06, 'MQIsdp', 0x03) : bytes(0x00, 0x04, 'MQTT', version)
  const body = bytes(
    head, //                       protocol name and level
    flags, //                      0x00 = CleanSession/CleanStart 0, 0x02 = 1
    0x00, 0x3c, //                 keepalive 60
    version === 5 ? [0x00] : [], // 5.0: no properties
    0x00, 0x00, //                 client id: zero-length string
  )
  return bytes(0x10, body.length, body)
}

t.test('an empty client id is assigned by the broker in 5.0 whatever CleanStart says, in 3.1.1 only with a clean session', async (t) => {
  const cases = [
    // MQTT 5 §3.1.3.1: a zero-length ClientID is the Server's to assign [MQTT-3.1.3-6]; CleanStart
    // plays no part (unlike 3.1.1 [MQTT-3.1.3-8]), and the CONNACK carries the Assigned Client Identifier.
    { name: '5.0, CleanStart 0', input: emptyClientId(5, 0x00), accepted: true, clean: false },
    { name: '5.0, CleanStart 1', input: emptyClientId(5, 0x02), accepted: true, clean: true },
    { name: '3.1.1, CleanSession 1 [MQTT-3.1.3-7]', input: emptyClientId(4, 0x02), accepted: true, clean: true },
    { name: '3.1.1, CleanSession 0 [MQTT-3.1.3-8]', input: emptyClientId(4, 0x00), accepted: false, version: 4 },
    { name: '3.1, CleanSession 1 (3.1 requires a client id)', input: emptyClientId(3, 0x02), accepted: false, version: 3 },
  ] as const
  for (const c of cases) {
    for (const [how, result] of [['whole', readAll(c.input)], ['byte by byte', readByteByByte(c.input)]] as const) {
      if (c.accepted) {
        t.equal(result.kind, 'connect', `${c.name} (${how}) is accepted: ${JSON.stringify(result)}`)
        if (result.kind !== 'connect') continue
        t.equal(result.packet.clientId, '', `${c.name} (${how}) client id stays empty`)
        t.equal(result.packet.clean, c.clean, `${c.name} (${how}) clean flag`)
        t.same(result.raw, c.input, `${c.name} (${how}) is forwarded byte for byte`)
      } else {
        t.equal(result.kind === 'error' && result.refusal, 'CLIENT_ID_REJECTED', `${c.name} (${how}) is refused`)
        t.equal(result.kind === 'error' && result.protocolVersion, c.version, `${c.name} (${how}) answered in its own version`)
      }
    }
  }
})

t.test('returns the bytes pipelined after CONNECT as rest', async (t) => {
  const pingreq = bytes(0xc0, 0x00)
  const publish = bytes(0x30, 0x05, 0x00, 0x01, 't', 'h', 'i')
  const result = readAll(Buffer.concat([V311_CREDENTIALS, pingreq, publish]))
  t.equal(result.kind, 'connect')
  if (result.kind === 'connect') {
    t.same(result.raw, V311_CREDENTIALS)
    t.same(result.rest, Buffer.concat([pingreq, publish]))
  }
})

t.test('decodes a 5.0 CONNECT with will, will properties and user properties', async (t) => {
  const packet = {
    cmd: 'connect' as const,
    protocolId: 'MQTT' as const,
    protocolVersion: 5 as const,
    clean: false,
    clientId: 'device-1',
    keepalive: 30,
    username: 'u',
    password: Buffer.from('p'),
    will: { topic: 'status', payload: Buffer.from('gone'), qos: 1 as const, retain: true, properties: { willDelayInterval: 5, userProperties: { a: 'b' } } },
    properties: { receiveMaximum: 10, maximumPacketSize: 1000, userProperties: { k: ['v1', 'v2'] } },
  }
  const result = readAll(mqttPacket.generate(packet))
  t.equal(result.kind, 'connect')
  if (result.kind !== 'connect') return
  t.equal(result.packet.clean, false)
  t.equal(result.packet.willTopic, 'status', 'the walk reads the will topic')
  t.equal(result.packet.maximumPacketSize, 1000, 'and the Maximum Packet Size')
  const decoded = mqttPacketOf(result.packet)
  t.same(decoded.will?.topic, 'status')
  t.same(decoded.will?.payload, Buffer.from('gone'))
  t.same(decoded.will?.properties, { willDelayInterval: 5, userProperties: { a: 'b' } })
  t.same(decoded.properties, packet.properties)
})

interface ErrorCase {
  readonly name: string
  readonly input: Buffer
  readonly refusal: string
  readonly version?: number
  readonly max?: number
}

const CONNECT_V4_HEAD = bytes(0x00, 0x04, 'MQTT', 0x04)
const CONNECT_V5_HEAD = bytes(0x00, 0x04, 'MQTT', 0x05)

function connect(body: Buffer): Buffer {
  return bytes(0x10, body.length, body)
}

const ERROR_CASES: ErrorCase[] = [
  { name: 'first packet is PUBLISH', input: bytes(0x30, 0x02, 0x00, 0x00), refusal: 'PROTOCOL_ERROR' },
  { name: 'CONNECT with fixed-header flags set [MQTT-2.2.2-2]', input: bytes(0x11, 0x00), refusal: 'PROTOCOL_ERROR' },
  { name: 'remaining length of five bytes', input: bytes(0x10, 0xff, 0xff, 0xff, 0xff, 0x7f), refusal: 'PROTOCOL_ERROR' },
  {
    name: 'declared length over the cap, protocol level readable',
    input: bytes(0x10, 0xe8, 0x07, CONNECT_V5_HEAD), // remaining length 1000
    refusal: 'PACKET_TOO_LARGE',
    version: 5,
    max: 512,
  },
  { name: 'unknown protocol level 6', input: connect(bytes(0x00, 0x04, 'MQTT', 0x06, 0x02, 0x00, 0x3c, str16('a'))), refusal: 'UNSUPPORTED_VERSION', version: 4 },
  { name: '"MQTT" with level 3', input: connect(bytes(0x00, 0x04, 'MQTT', 0x03, 0x02, 0x00, 0x3c, str16('a'))), refusal: 'UNSUPPORTED_VERSION', version: 4 },
  { name: 'unknown protocol name', input: connect(bytes(0x00, 0x04, 'MQTX', 0x04, 0x02, 0x00, 0x3c, str16('a'))), refusal: 'PROTOCOL_ERROR' },
  { name: 'reserved connect flag [MQTT-3.1.2-3]', input: connect(bytes(CONNECT_V4_HEAD, 0x03, 0x00, 0x3c, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 4 },
  { name: 'will QoS 3 [MQTT-3.1.2-14]', input: connect(bytes(CONNECT_V4_HEAD, 0x1e, 0x00, 0x3c, str16('a'), str16('t'), str16('m'))), refusal: 'PROTOCOL_ERROR', version: 4 },
  { name: 'will retain without will [MQTT-3.1.2-15]', input: connect(bytes(CONNECT_V4_HEAD, 0x22, 0x00, 0x3c, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 4 },
  { name: '3.1.1 password without user name [MQTT-3.1.2-22]', input: connect(bytes(CONNECT_V4_HEAD, 0x42, 0x00, 0x3c, str16('a'), str16('p'))), refusal: 'PROTOCOL_ERROR', version: 4 },
  { name: 'user name flag but no user name', input: connect(bytes(CONNECT_V4_HEAD, 0x82, 0x00, 0x3c, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 4 },
  { name: 'bytes after the payload', input: connect(bytes(CONNECT_V4_HEAD, 0x02, 0x00, 0x3c, str16('a'), 0x00)), refusal: 'PROTOCOL_ERROR', version: 4 },
  { name: 'client id not UTF-8 [MQTT-1.5.4-1]', input: connect(bytes(CONNECT_V4_HEAD, 0x02, 0x00, 0x3c, 0x00, 0x02, 0xc3, 0x28)), refusal: 'PROTOCOL_ERROR', version: 4 },
  { name: 'client id with U+0000 [MQTT-1.5.4-2]', input: connect(bytes(CONNECT_V4_HEAD, 0x02, 0x00, 0x3c, 0x00, 0x01, 0x00)), refusal: 'PROTOCOL_ERROR', version: 4 },
  { name: 'empty client id without clean session [MQTT-3.1.3-8]', input: connect(bytes(CONNECT_V4_HEAD, 0x00, 0x00, 0x3c, 0x00, 0x00)), refusal: 'CLIENT_ID_REJECTED', version: 4 },
  { name: '5.0 property given twice', input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x0a, 0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 5 },
  { name: '5.0 unknown property id', input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x02, 0x7f, 0x00, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 5 },
  { name: '5.0 Topic Alias (0x23) is not a CONNECT property', input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x03, 0x23, 0x00, 0x01, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 5 },
  { name: '5.0 Receive Maximum 0', input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x03, 0x21, 0x00, 0x00, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 5 },
  { name: '5.0 Request Problem Information 2', input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x02, 0x17, 0x02, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 5 },
  { name: '5.0 Authentication Data without Method', input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x04, 0x16, 0x00, 0x01, 0xaa, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 5 },
  { name: '5.0 Authentication Method not UTF-8', input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x05, 0x15, 0x00, 0x02, 0xc3, 0x28, str16('a'))), refusal: 'PROTOCOL_ERROR', version: 5 },
  { name: 'empty will topic [MQTT-4.7.3-1]', input: connect(bytes(CONNECT_V4_HEAD, 0x06, 0x00, 0x3c, str16('a'), str16(''), str16('m'))), refusal: 'PROTOCOL_ERROR', version: 4 },
  {
    name: '5.0 property overrunning its block',
    // properties length 2, but Session Expiry (0x11) needs 4 octets: it eats into the client id.
    input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x02, 0x11, 0x00, 0x00, 0x03, 'abc')),
    refusal: 'PROTOCOL_ERROR',
    version: 5,
  },
  {
    name: '5.0 truncated user property',
    input: connect(bytes(CONNECT_V5_HEAD, 0x02, 0x00, 0x3c, 0x04, 0x26, 0x00, 0x01, 'k', str16('a'))),
    refusal: 'PROTOCOL_ERROR',
    version: 5,
  },
]

t.test('refuses malformed CONNECTs with an error result and a usable protocol version', async (t) => {
  for (const c of ERROR_CASES) {
    const result = readAll(c.input, c.max ?? MAX)
    if (result.kind !== 'error') {
      t.fail(`${c.name}: expected error, got ${result.kind}`)
      continue
    }
    t.equal(result.reason, 'PROTOCOL_ERROR', `${c.name}: reason`)
    t.equal(result.refusal, c.refusal, `${c.name}: refusal (${result.detail})`)
    t.equal(result.protocolVersion, c.version, `${c.name}: protocol version`)
  }
})

t.test('refuses an oversized CONNECT from its header and version octets, before the body arrives', async (t) => {
  const reader = new ConnectReader(256)
  t.same(reader.push(bytes(0x10)), { kind: 'need-more' }, 'type octet alone')
  t.same(reader.push(bytes(0x80, 0x80, 0x01)), { kind: 'need-more' }, 'remaining length 16384: waits only for the octets that name the version')
  const result = reader.push(bytes(0x00, 0x04, 'MQTT', 0x05))
  t.equal(result.kind, 'error')
  t.equal(result.kind === 'error' && result.refusal, 'PACKET_TOO_LARGE')
  t.equal(result.kind === 'error' && result.protocolVersion, 5, 'answered in the client\'s version [MQTT-3.2.2-6]')
})

t.test('refuses the first octet at once when it is not CONNECT', async (t) => {
  const result = new ConnectReader(MAX).push(bytes(0x16)) // a TLS record on a plaintext port
  t.equal(result.kind, 'error')
})

t.test('accepts a CONNECT of exactly the cap and refuses one octet more', async (t) => {
  t.equal(readAll(V311_MINIMAL, V311_MINIMAL.length).kind, 'connect')
  const over = readAll(V311_MINIMAL, V311_MINIMAL.length - 1)
  t.equal(over.kind === 'error' && over.refusal, 'PACKET_TOO_LARGE')
  t.equal(over.kind === 'error' && over.protocolVersion, 4, 'version sniffed from the bytes at hand')
})

t.test('answers an error once the reader has returned its result', async (t) => {
  const reader = new ConnectReader(MAX)
  t.equal(reader.push(V311_MINIMAL).kind, 'connect')
  t.equal(reader.push(bytes(0xc0, 0x00)).kind, 'error')
})
