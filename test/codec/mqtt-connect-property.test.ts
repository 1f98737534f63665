import t from 'tap'
import fc from 'fast-check'
import { bytes, mutated } from '../helpers/arbitraries'
import assert from 'node:assert/strict'
import mqttPacket from 'mqtt-packet'
import type { IConnectPacket } from 'mqtt-packet'
import { ConnectReader, type ConnectReadResult } from '../../src/protocols/mqtt/connect-decoder'
import { encodeConnect } from '../../src/protocols/mqtt/connect-encoder'
import { checkConnectLayout } from '../../src/protocols/mqtt/connect-layout'
import { checkProperties, isMqttUtf8 } from '../../src/protocols/mqtt/connect-properties'
import { encodeVarByteInt, readVarByteInt } from '../../src/protocols/mqtt/var-byte-int'
import { splitAt } from '../helpers/socket-pair'
import { mqttPacketOf } from './mqtt-packet-of'

/**
 * Properties of the capped CONNECT reader (MQTT 3.1.1 §3.1, MQTT 5 §3.1) and its parts: it never
 * throws on arbitrary bytes, answers the same however they are chunked, holds no more than the cap
 * (or the ≤5-octet fixed header) while waiting, refuses a Remaining Length over the cap from the
 * fixed header alone, and whatever it accepts re-encodes (connect-encoder.ts) to a CONNECT that
 * decodes to the same fields.
 */
const RUNS = 300
const MAX_VBI = 268_435_455 // MQTT 5 §1.5.5

function held(reader: ConnectReader): number {
  return (reader as unknown as { buffered: number }).buffered
}

function feed(chunks: readonly Buffer[], max: number): { result: ConnectReadResult; unread: Buffer } {
  const reader = new ConnectReader(max)
  for (let i = 0; i < chunks.length; i += 1) {
    const result = reader.push(chunks[i]!)
    if (result.kind === 'need-more') {
      // Waiting: at most the fixed header (1 + 4 VBI octets) and the octets naming the version
      // (2 + 6 + 1, for an over-cap refusal in the client's version), or less than a packet ≤ cap.
      const n = held(reader)
      if (n >= Math.max(max, 5 + 9 + 1)) throw new Error(`holds ${n} octets waiting for more (cap ${max})`)
      continue
    }
    return { result, unread: Buffer.concat(chunks.slice(i + 1)) }
  }
  return { result: { kind: 'need-more' }, unread: Buffer.alloc(0) }
}

/** The answer as data, with `rest` completed by what was never pushed, so chunkings compare. */
function summary({ result, unread }: { result: ConnectReadResult; unread: Buffer }): unknown {
  if (result.kind === 'connect') return { kind: 'connect', info: fields(result.packet), raw: result.raw, rest: Buffer.concat([result.rest, unread]) }
  if (result.kind === 'error') {
    return { kind: 'error', refusal: result.refusal, version: result.protocolVersion }
  }
  return { kind: 'need-more' }
}

function fields(p: Extract<ConnectReadResult, { kind: 'connect' }>['packet']): unknown {
  return {
    protocolVersion: p.protocolVersion, clientId: p.clientId, username: p.username, password: p.password,
    keepalive: p.keepalive, clean: p.clean, willTopic: p.willTopic, maximumPacketSize: p.maximumPacketSize,
    // What the walk does not read, mqtt-packet's decoding gives (and must give without disagreeing).
    will: mqttPacketOf(p).will, properties: mqttPacketOf(p).properties,
  }
}

/** MQTT UTF-8 strings (§1.5.4): no U+0000, no lone surrogates. */
const mqttString = (min: number, max: number): fc.Arbitrary<string> =>
  fc.string({ unit: 'grapheme', minLength: min, maxLength: max }).filter((s) => !s.includes('\u0000') && isMqttUtf8(Buffer.from(s, 'utf8')))

const connectProperties = fc.record({
  sessionExpiryInterval: fc.nat(),
  receiveMaximum: fc.integer({ min: 1, max: 0xffff }),
  maximumPacketSize: fc.integer({ min: 1, max: 0xffffffff }),
  topicAliasMaximum: fc.integer({ min: 0, max: 0xffff }),
  requestResponseInformation: fc.boolean(),
  requestProblemInformation: fc.boolean(),
  // mqtt-packet generates nothing at all (an empty buffer) for an empty userProperties object.
  userProperties: fc.dictionary(mqttString(1, 8), mqttString(0, 8), { minKeys: 1, maxKeys: 3 }),
}, { requiredKeys: [] })

const willProperties = fc.record({
  willDelayInterval: fc.nat(),
  payloadFormatIndicator: fc.boolean(),
  messageExpiryInterval: fc.nat(),
  contentType: mqttString(1, 12),
  responseTopic: mqttString(1, 12),
  correlationData: bytes(12),
}, { requiredKeys: [] })

/** A valid CONNECT of any version, as mqtt-packet generates it. */
const validConnect: fc.Arbitrary<IConnectPacket> = fc.constantFrom(3, 4, 5).chain((version) => fc.record({
  clientId: mqttString(1, 23),
  keepalive: fc.integer({ min: 0, max: 0xffff }),
  clean: fc.boolean(),
  username: fc.option(mqttString(0, 20), { nil: undefined }),
  password: fc.option(bytes(20), { nil: undefined }),
  will: fc.option(fc.record({
    topic: mqttString(1, 16), payload: bytes(24), qos: fc.constantFrom(0 as const, 1 as const, 2 as const), retain: fc.boolean(),
    ...(version === 5 ? { properties: willProperties } : {}),
  }), { nil: undefined }),
  ...(version === 5 ? { properties: connectProperties } : {}),
}).map((p): IConnectPacket => {
  const packet: IConnectPacket = {
    cmd: 'connect', protocolId: version === 3 ? 'MQIsdp' : 'MQTT', protocolVersion: version as 3 | 4 | 5,
    clientId: p.clientId, keepalive: p.keepalive, clean: p.clean,
  }
  if (p.username !== undefined) packet.username = p.username
  // [MQTT-3.1.2-22]: before MQTT 5 a password needs a user name.
  if (p.password !== undefined && (p.username !== undefined || version === 5)) packet.password = p.password
  if (p.will !== undefined) packet.will = p.will as NonNullable<IConnectPacket['will']>
  if ('properties' in p && p.properties !== undefined) packet.properties = p.properties as NonNullable<IConnectPacket['properties']>
  return packet
}))

/** Encodes with connect-encoder.ts, which handles an MQTT 5 password without a user name. */
const encoded = validConnect.map((p) => encodeConnect(p, {}))

const clientBytes: fc.Arbitrary<Buffer> = fc.tuple(
  fc.oneof(bytes(80), bytes(80).map((b) => Buffer.concat([Buffer.from([0x10]), b])), encoded, mutated(encoded)),
  bytes(12),
).map(([head, tail]) => Buffer.concat([head, tail]))

const cuts = fc.array(fc.nat(), { maxLength: 12 })

t.test('a generated CONNECT of any version decodes to its own fields, whatever the chunking; pipelined bytes are the rest', async (t) => {
  fc.assert(fc.property(validConnect, bytes(16), cuts, (packet, tail, at) => {
    const raw = encodeConnect(packet, {})
    const input = Buffer.concat([raw, tail])
    const whole = feed([input], 4096)
    if (whole.result.kind !== 'connect') throw new Error(`refused: ${JSON.stringify(whole.result)}`)
    const p = whole.result.packet
    assert.equal(p.protocolVersion, packet.protocolVersion)
    assert.equal(p.clientId, packet.clientId)
    assert.equal(p.username, packet.username)
    assert.deepEqual(p.password, packet.password)
    assert.deepEqual(whole.result.raw, raw)
    assert.deepEqual(whole.result.rest, tail)
    assert.deepEqual(summary(feed(splitAt(input, at), 4096)), summary(whole))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} CONNECTs`)
})

t.test('never throws on arbitrary bytes, answers the same however chunked, holds no more than the cap while waiting', async (t) => {
  const kinds = { connect: 0, error: 0, 'need-more': 0 }
  fc.assert(fc.property(clientBytes, cuts, fc.integer({ min: 1, max: 300 }), (input, at, max) => {
    const whole = feed([input], max)
    const chunked = feed(splitAt(input, at), max)
    assert.deepEqual(summary(chunked), summary(whole))
    kinds[whole.result.kind] += 1
    if (whole.result.kind === 'connect') assert.ok(whole.result.raw.length <= max, 'an accepted CONNECT fits the cap')
  }), { numRuns: RUNS })
  t.ok(kinds.connect > 0 && kinds.error > 0, `outcomes ${JSON.stringify(kinds)}`)
})

t.test('whatever it accepts re-encodes to a CONNECT that decodes to the same fields', async (t) => {
  let accepted = 0
  fc.assert(fc.property(fc.oneof(encoded, mutated(encoded)), (input) => {
    const first = feed([input], 4096).result
    if (first.kind !== 'connect') return
    accepted += 1
    const again = feed([encodeConnect(mqttPacketOf(first.packet), {})], 4096).result
    if (again.kind !== 'connect') throw new Error(`re-encoded CONNECT refused: ${JSON.stringify(again)}`)
    assert.deepEqual(fields(again.packet), fields(first.packet))
  }), { numRuns: RUNS })
  t.ok(accepted > RUNS / 3, `${accepted} accepted`)
})

t.test('a Remaining Length over the cap is refused from the fixed header and the version octets, before the rest of the body arrives', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 7, max: MAX_VBI }), fc.integer({ min: 1, max: 100_000 }), (remaining, max) => {
    const header = Buffer.concat([Buffer.from([0x10]), encodeVarByteInt(remaining)])
    fc.pre(header.length + remaining > max)
    const reader = new ConnectReader(max)
    assert.equal(reader.push(header).kind, 'need-more', 'waits only for the octets that name the version')
    const result = reader.push(Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05])) // "MQTT", level 5
    assert.equal(result.kind, 'error')
    assert.equal(result.kind === 'error' ? result.refusal : undefined, 'PACKET_TOO_LARGE')
    assert.equal(result.kind === 'error' ? result.protocolVersion : undefined, 5)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} fixed headers`)
})

t.test('an over-cap CONNECT is answered in the same protocol version however its first octets were chunked', async (t) => {
  fc.assert(fc.property(validConnect, fc.integer({ min: 8, max: 64 }), (packet, max) => {
    const raw = encodeConnect(packet, {})
    fc.pre(raw.length > max)
    const headerLength = 1 + (readVarByteInt(raw, 1) as { length: number }).length
    const whole = new ConnectReader(max).push(raw)
    const split = new ConnectReader(max)
    assert.equal(split.push(raw.subarray(0, headerLength)).kind, 'need-more', 'the fixed header alone waits for the version octets')
    const answered = split.push(raw.subarray(headerLength, headerLength + 9))
    assert.equal(whole.kind === 'error' ? whole.protocolVersion : 'accepted', packet.protocolVersion)
    assert.equal(answered.kind === 'error' ? answered.protocolVersion : 'accepted', packet.protocolVersion, 'fixed header, then the version octets')
  }), { numRuns: 100 })
  t.pass('same version')
})

t.test('a Variable Byte Integer round-trips over its whole range; reading arbitrary bytes never throws', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: MAX_VBI }), bytes(3), (value, after) => {
    const vbi = encodeVarByteInt(value)
    assert.ok(vbi.length >= 1 && vbi.length <= 4)
    assert.deepEqual(readVarByteInt(Buffer.concat([vbi, after]), 0), { kind: 'ok', value, length: vbi.length })
  }), { numRuns: RUNS })
  fc.assert(fc.property(bytes(8), fc.nat(8), (buf, offset) => {
    const r = readVarByteInt(buf, offset)
    if (r.kind === 'ok') {
      assert.ok(r.value <= MAX_VBI && r.length <= 4)
      assert.equal(readVarByteInt(encodeVarByteInt(r.value), 0).kind, 'ok')
    }
  }), { numRuns: RUNS })
  t.pass('round trips')
})

t.test('the CONNECT layout walk and the property checks never throw on arbitrary bytes', async (t) => {
  fc.assert(fc.property(fc.oneof(bytes(80), encoded.map((b) => b.subarray(2)), mutated(encoded.map((b) => b.subarray(2)))), (body) => {
    const layout = checkConnectLayout(body)
    assert.equal(typeof layout.ok, 'boolean')
    for (const context of ['connect', 'will'] as const) {
      const problem = checkProperties(body, context)
      assert.ok(problem === undefined || typeof problem === 'string')
    }
  }), { numRuns: RUNS })
  t.pass(`${RUNS} bodies`)
})

t.test('mqtt-packet itself reads what the gateway forwards: every accepted CONNECT parses as one packet', async (t) => {
  fc.assert(fc.property(fc.oneof(encoded, mutated(encoded)), (input) => {
    const result = feed([input], 4096).result
    if (result.kind !== 'connect') return
    const parser = mqttPacket.parser({ protocolVersion: result.packet.protocolVersion })
    const seen: string[] = []
    parser.on('packet', (p) => seen.push(p.cmd))
    parser.on('error', (err) => seen.push(`error ${err.message}`))
    parser.parse(result.raw)
    assert.deepEqual(seen, ['connect'])
  }), { numRuns: RUNS })
  t.pass(`${RUNS} inputs`)
})
