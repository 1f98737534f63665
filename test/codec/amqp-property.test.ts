import t from 'tap'
import fc from 'fast-check'
import { bytes, mutated } from '../helpers/arbitraries'
import assert from 'node:assert/strict'
import {
  DEFAULT_FIELD_TABLE_LIMITS, decodeFieldTable, decodeFieldTableBody, encodeFieldTable, encodeFieldTableBody, longstr,
  type FieldTable, type FieldValue,
} from '../../src/protocols/amqp/field-table'
import { FRAME_TYPES, FrameReader, PROTOCOL_HEADER, encodeFrame, parseProtocolHeader, type AmqpFrame, type FrameType } from '../../src/protocols/amqp/frame-codec'
import { decodeMethod, encodeMethod, parseAmqplainResponse, parsePlainResponse, type ConnectionMethod } from '../../src/protocols/amqp/methods'
import { splitAt } from '../helpers/socket-pair'

/**
 * Properties of the AMQP 0-9-1 codecs: the protocol header (§4.2.2), frames (§4.2.3), Connection
 * methods (§4.2.4, class 10), field tables (§4.2.5.5, RabbitMQ errata tags) and the SASL PLAIN
 * (RFC 4616 §2) / AMQPLAIN responses. Over arbitrary bytes they never throw; the frame reader
 * answers the same however its input is chunked and holds less than one frame; a declared frame
 * size over the cap is refused from the 7-octet header; and what is generated round-trips.
 */
const RUNS = 300

const cuts = fc.array(fc.nat(), { maxLength: 12 })
/** A shortstr's text: valid UTF-8 of at most 255 octets (§4.2.5.3). */
const shortstr = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => Buffer.byteLength(s) <= 255)

// Field values of every tag, nested (tables and arrays).
const { value: fieldValue } = fc.letrec<{ value: FieldValue; table: FieldTable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.boolean().map((value): FieldValue => ({ tag: 't', value })),
    fc.integer({ min: -128, max: 127 }).map((value): FieldValue => ({ tag: 'b', value })),
    fc.integer({ min: 0, max: 255 }).map((value): FieldValue => ({ tag: 'B', value })),
    fc.integer({ min: -32768, max: 32767 }).map((value): FieldValue => ({ tag: 's', value })),
    fc.integer({ min: 0, max: 0xffff }).map((value): FieldValue => ({ tag: 'u', value })),
    fc.integer().map((value): FieldValue => ({ tag: 'I', value })),
    fc.integer({ min: 0, max: 0xffffffff }).map((value): FieldValue => ({ tag: 'i', value })),
    fc.tuple(fc.constantFrom('l' as const, 'L' as const), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })).map(([tag, value]): FieldValue => ({ tag, value })),
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((value): FieldValue => ({ tag: 'T', value })),
    fc.float().map((value): FieldValue => ({ tag: 'f', value })),
    fc.double().map((value): FieldValue => ({ tag: 'd', value })),
    fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffffffff })).map(([scale, value]): FieldValue => ({ tag: 'D', scale, value })),
    fc.tuple(fc.constantFrom('S' as const, 'x' as const), bytes(24)).map(([tag, value]): FieldValue => ({ tag, value })),
    fc.array(tie('value'), { maxLength: 3 }).map((value): FieldValue => ({ tag: 'A', value })),
    tie('table').map((value): FieldValue => ({ tag: 'F', value })),
    fc.constant<FieldValue>({ tag: 'V' }),
  ),
  table: fc.uniqueArray(fc.tuple(shortstr, tie('value')), { maxLength: 4, selector: ([name]) => name }).map((entries) => new Map(entries)),
}))
const fieldTable: fc.Arbitrary<FieldTable> = fc.uniqueArray(fc.tuple(shortstr, fieldValue), { maxLength: 5, selector: ([name]) => name }).map((e) => new Map(e))

const connectionMethod: fc.Arbitrary<ConnectionMethod> = fc.oneof(
  fc.record({ name: fc.constant('connection.start' as const), versionMajor: fc.integer({ min: 0, max: 255 }), versionMinor: fc.integer({ min: 0, max: 255 }), serverProperties: fieldTable, mechanisms: fc.string(), locales: fc.string() }, { noNullPrototype: true }),
  fc.record({ name: fc.constant('connection.start-ok' as const), clientProperties: fieldTable, mechanism: shortstr, response: bytes(40), locale: shortstr }, { noNullPrototype: true }),
  fc.record({ name: fc.constant('connection.secure' as const), challenge: bytes(40) }, { noNullPrototype: true }),
  fc.record({ name: fc.constant('connection.secure-ok' as const), response: bytes(40) }, { noNullPrototype: true }),
  fc.record({ name: fc.constantFrom('connection.tune' as const, 'connection.tune-ok' as const), channelMax: fc.integer({ min: 0, max: 0xffff }), frameMax: fc.integer({ min: 0, max: 0xffffffff }), heartbeat: fc.integer({ min: 0, max: 0xffff }) }, { noNullPrototype: true }),
  fc.record({ name: fc.constant('connection.open' as const), virtualHost: shortstr, capabilities: shortstr, insist: fc.boolean() }, { noNullPrototype: true }),
  fc.record({ name: fc.constant('connection.open-ok' as const), knownHosts: shortstr }, { noNullPrototype: true }),
  fc.record({ name: fc.constant('connection.close' as const), replyCode: fc.integer({ min: 0, max: 0xffff }), replyText: shortstr, classId: fc.integer({ min: 0, max: 0xffff }), methodId: fc.integer({ min: 0, max: 0xffff }) }, { noNullPrototype: true }),
  fc.constant({ name: 'connection.close-ok' as const }),
)
// fc.string() is UTF-16 and may hold lone surrogates, which a longstr cannot carry as text.
const wellFormed = connectionMethod.filter((m) => m.name !== 'connection.start' || (wellFormedText(m.mechanisms) && wellFormedText(m.locales)))

const frame: fc.Arbitrary<AmqpFrame> = fc.record({
  type: fc.constantFrom<FrameType>(FRAME_TYPES.METHOD, FRAME_TYPES.HEADER, FRAME_TYPES.BODY, FRAME_TYPES.HEARTBEAT),
  channel: fc.integer({ min: 0, max: 0xffff }),
  payload: bytes(60),
}, { noNullPrototype: true })
const frameStream = fc.array(frame, { maxLength: 5 }).map((fs) => Buffer.concat(fs.map((f) => encodeFrame(f.type, f.channel, f.payload))))
const clientFrames = fc.tuple(fc.oneof(bytes(120), frameStream, mutated(frameStream)), bytes(10)).map(([a, b]) => Buffer.concat([a, b]))

interface Read { frames: AmqpFrame[]; error?: string; held: number[] }

function readFrames(chunks: readonly Buffer[], max: number): Read {
  const reader = new FrameReader(max)
  const out: Read = { frames: [], held: [] }
  for (const chunk of chunks) {
    const result = reader.push(chunk)
    out.frames.push(...result.frames)
    out.held.push(reader.buffered)
    if (result.kind === 'error') {
      out.error = result.error.code
      break
    }
  }
  return out
}

t.test('the frame reader never throws, answers the same however chunked, and holds less than one capped frame', async (t) => {
  fc.assert(fc.property(clientFrames, cuts, fc.integer({ min: 8, max: 200 }), (input, at, max) => {
    const whole = readFrames([input], max)
    const chunked = readFrames(splitAt(input, at), max)
    assert.deepEqual(chunked.frames, whole.frames)
    assert.equal(chunked.error, whole.error)
    for (const n of [...whole.held, ...chunked.held]) assert.ok(n < max, `holds ${n} octets with frame-max ${max}`)
    for (const f of whole.frames) assert.ok(f.payload.length + 8 <= max)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} streams`)
})

t.test('a frame whose declared size is over the cap is refused from its 7-octet header', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 8, max: 1 << 20 }), fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom(1, 2, 3, 8), (max, size, type) => {
    fc.pre(size + 8 > max)
    const header = Buffer.alloc(7)
    header.writeUInt8(type, 0)
    header.writeUInt32BE(size, 3)
    const result = new FrameReader(max).push(header)
    assert.equal(result.kind === 'error' ? result.error.code : result.kind, 'FRAME_TOO_LARGE')
  }), { numRuns: RUNS })
  t.pass(`${RUNS} headers`)
})

t.test('encoded frames read back as themselves, whatever the chunking', async (t) => {
  fc.assert(fc.property(fc.array(frame, { maxLength: 6 }), cuts, (frames, at) => {
    const stream = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.channel, f.payload)))
    const read = readFrames(splitAt(stream, at), 4096)
    assert.equal(read.error, undefined)
    assert.deepEqual(read.frames, frames)
    assert.equal(read.held.at(-1) ?? 0, 0)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} frame lists`)
})

t.test('the protocol header check decides within 8 octets, the same whatever the chunking', async (t) => {
  const headerish = fc.oneof(bytes(12), bytes(8).map((b) => Buffer.concat([PROTOCOL_HEADER.subarray(0, b.length % 9), b])), mutated(fc.constant(PROTOCOL_HEADER)))
  fc.assert(fc.property(headerish, cuts, (input, at) => {
    const whole = parseProtocolHeader(input)
    if (input.length >= 8) assert.notEqual(whole.kind, 'need-more')
    let seen = Buffer.alloc(0)
    let chunked: ReturnType<typeof parseProtocolHeader> = { kind: 'need-more' }
    for (const chunk of splitAt(input, at)) {
      seen = Buffer.concat([seen, chunk])
      chunked = parseProtocolHeader(seen)
      if (chunked.kind !== 'need-more') break
    }
    assert.equal(chunked.kind, whole.kind)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} headers`)
})

t.test('decodeMethod never throws on arbitrary payloads', async (t) => {
  const payload = fc.oneof(
    bytes(80),
    fc.tuple(fc.integer({ min: 10, max: 51 }), bytes(80)).map(([m, b]) => Buffer.concat([Buffer.from([0, 10, 0, m]), b])),
    mutated(wellFormed.map(encodeMethod)),
  )
  fc.assert(fc.property(payload, (p) => {
    const result = decodeMethod(p)
    assert.ok(result.ok || (typeof result.detail === 'string' && result.replyCode === 502))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} payloads`)
})

t.test('every Connection method round-trips: encode, decode, the same method and the same bytes', async (t) => {
  fc.assert(fc.property(wellFormed, (method) => {
    const bytesOut = encodeMethod(method)
    const decoded = decodeMethod(bytesOut)
    if (!decoded.ok) throw new Error(decoded.detail)
    assert.deepEqual(decoded.method, method)
    assert.deepEqual(encodeMethod(decoded.method as ConnectionMethod), bytesOut)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} methods`)
})

t.test('a Connection method decodeMethod accepts can be encoded again (the backend stage re-encodes Open and client-properties)', async (t) => {
  fc.assert(fc.property(mutated(wellFormed.map(encodeMethod)), (p) => {
    const result = decodeMethod(p)
    if (!result.ok || result.method.name === 'other') return
    const again = decodeMethod(encodeMethod(result.method))
    assert.ok(again.ok)
    assert.deepEqual(again.method, result.method)
  }), { numRuns: RUNS })
  // The shrunk case, kept explicit: Connection.Open with a 255-octet virtual host of 0xff octets
  // used to decode into 255 U+FFFD (765 octets) that could not be encoded again; a shortstr that
  // is not UTF-8 is now refused at decode.
  const open = Buffer.concat([Buffer.from([0, 10, 0, 40, 255]), Buffer.alloc(255, 0xff), Buffer.from([0, 0])])
  const decoded = decodeMethod(open)
  assert.ok(!decoded.ok && /not valid UTF-8/.test(decoded.detail), 'refused at decode')
  t.pass('re-encodable, or refused')
})

t.test('field tables of every tag, nested, round-trip exactly; arbitrary bytes never throw', async (t) => {
  fc.assert(fc.property(fieldTable, (table) => {
    const encoded = encodeFieldTable(table)
    const decoded = decodeFieldTable(encoded)
    if (!decoded.ok) throw new Error(decoded.detail)
    assert.deepEqual(decoded.table, table)
    assert.deepEqual(encodeFieldTable(decoded.table), encoded)
  }), { numRuns: RUNS })
  fc.assert(fc.property(fc.oneof(bytes(100), mutated(fieldTable.map(encodeFieldTable))), (input) => {
    const r = decodeFieldTable(input)
    assert.ok(r.ok || typeof r.detail === 'string')
    const body = decodeFieldTableBody(input)
    assert.ok(body.ok || typeof body.detail === 'string')
  }), { numRuns: RUNS })
  t.pass('round trips')
})

t.test('nesting deeper than the cap is refused without exhausting the stack, at any depth', async (t) => {
  fc.assert(fc.property(fc.integer({ min: DEFAULT_FIELD_TABLE_LIMITS.maxDepth + 1, max: 3_000 }), fc.constantFrom('F', 'A'), (depth, tag) => {
    // Built inside out: each level is one field `n` (or array item) holding the next level.
    let inner = Buffer.alloc(0)
    for (let i = 1; i < depth; i += 1) {
      const value = Buffer.concat([Buffer.from(tag), u32(inner.length), inner])
      inner = tag === 'F' ? Buffer.concat([Buffer.from([1]), Buffer.from('n'), value]) : value
    }
    const outer = tag === 'F' ? Buffer.concat([u32(inner.length), inner]) : Buffer.concat([u32(inner.length + 7), Buffer.from([1]), Buffer.from('n'), Buffer.from('A'), u32(inner.length), inner])
    const r = decodeFieldTable(outer)
    assert.equal(r.ok, false)
  }), { numRuns: 20 })
  t.pass('refused')
})

t.test('a field table that decodes re-encodes to an equivalent table (normalised booleans, last of a repeated name)', async (t) => {
  fc.assert(fc.property(mutated(fieldTable.map(encodeFieldTable)), (input) => {
    const r = decodeFieldTable(input)
    if (!r.ok) return
    const again = decodeFieldTable(encodeFieldTable(r.table))
    assert.ok(again.ok)
    assert.deepEqual(again.table, r.table)
  }), { numRuns: RUNS })
  t.pass('equivalent')
})

t.test('PLAIN and AMQPLAIN responses: what a client encodes parses back to its credentials; arbitrary bytes never throw', async (t) => {
  const text = (min: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', minLength: min, maxLength: 30 }).filter((s) => !s.includes('\u0000'))
  fc.assert(fc.property(text(0), text(1), text(1), (authzid, username, password) => {
    const r = parsePlainResponse(Buffer.from(`${authzid}\u0000${username}\u0000${password}`, 'utf8'))
    assert.deepEqual(r, authzid === '' ? { ok: true, username, password } : { ok: true, username, password, authzid })
  }), { numRuns: RUNS })
  fc.assert(fc.property(text(1), text(0), (username, password) => {
    const body = encodeFieldTableBody(new Map([['LOGIN', longstr(username)], ['PASSWORD', longstr(password)]]))
    assert.deepEqual(parseAmqplainResponse(body), { ok: true, username, password })
  }), { numRuns: RUNS })
  fc.assert(fc.property(fc.oneof(bytes(80), mutated(fc.constant(Buffer.from('\u0000user\u0000pass')))), (input) => {
    for (const r of [parsePlainResponse(input), parseAmqplainResponse(input)]) assert.ok(r.ok ? r.username !== '' : typeof r.detail === 'string')
  }), { numRuns: RUNS })
  t.pass('credentials')
})

function wellFormedText(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}
