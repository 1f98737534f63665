import t from 'tap'
import { bool, encodeFieldTableBody, longstr, table } from '../../src/protocols/amqp/field-table'
import { FrameReader } from '../../src/protocols/amqp/frame-codec'
import {
  decodeMethod,
  encodeMethod,
  encodeMethodFrame,
  parseAmqplainResponse,
  parsePlainResponse,
} from '../../src/protocols/amqp/methods'
import type { ConnectionMethod } from '../../src/protocols/amqp/methods'
import { bytes } from './fixture-bytes'

/** Connection.Start as RabbitMQ sends it, trimmed to one property per kind. */
const START_FRAME = bytes(
  0x01, 0x00, 0x00, //                  method frame, channel 0
  0x00, 0x00, 0x00, 0x61, //            size 97
  0x00, 0x0a, 0x00, 0x0a, //            Connection.Start (10,10)
  0x00, 0x09, //                        version 0-9
  0x00, 0x00, 0x00, 0x3c, //            server-properties, 60 octets
  0x07, 'product', 'S', 0x00, 0x00, 0x00, 0x08, 'RabbitMQ', //  21
  0x0c, 'capabilities', 'F', 0x00, 0x00, 0x00, 0x15, //         18 + 21
  0x12, 'publisher_confirms', 't', 0x01,
  0x00, 0x00, 0x00, 0x0e, 'PLAIN AMQPLAIN', // mechanisms
  0x00, 0x00, 0x00, 0x05, 'en_US', //           locales
  0xce,
)

const START_OK_PAYLOAD = bytes(
  0x00, 0x0a, 0x00, 0x0b, //            Connection.Start-Ok (10,11)
  0x00, 0x00, 0x00, 0x00, //            client-properties: empty table
  0x05, 'PLAIN', //                     mechanism
  0x00, 0x00, 0x00, 0x0c, 0x00, 'guest', 0x00, 'guest', // response "\0guest\0guest"
  0x05, 'en_US', //                     locale
)

const CLOSE_PAYLOAD = bytes(
  0x00, 0x0a, 0x00, 0x32, //            Connection.Close (10,50)
  0x01, 0x93, //                        reply-code 403
  0x1a, 'ACCESS_REFUSED - BLACKLIST', //  reply-text (26)
  0x00, 0x00, 0x00, 0x00, //            class-id 0, method-id 0
)

t.test('decodes Connection.Start from a frame', async (t) => {
  const read = new FrameReader().push(START_FRAME)
  const frame = read.frames[0]
  if (!frame) {
    t.fail('no frame')
    return
  }
  const decoded = decodeMethod(frame.payload)
  if (!decoded.ok || decoded.method.name !== 'connection.start') {
    t.fail(JSON.stringify(decoded))
    return
  }
  const m = decoded.method
  t.equal(m.versionMajor, 0)
  t.equal(m.versionMinor, 9)
  t.equal(m.mechanisms, 'PLAIN AMQPLAIN')
  t.equal(m.locales, 'en_US')
  t.same(m.serverProperties?.get('product'), longstr('RabbitMQ'))
  t.same(encodeMethodFrame(m), START_FRAME, 'and encodes back to the same frame')
})

t.test('skipServerProperties steps over the table and reads the rest of Connection.Start alike', async (t) => {
  const payload = START_FRAME.subarray(7, START_FRAME.length - 1)
  const skipped = decodeMethod(payload, undefined, { skipServerProperties: true })
  const full = decodeMethod(payload)
  if (!skipped.ok || skipped.method.name !== 'connection.start' || !full.ok || full.method.name !== 'connection.start') {
    t.fail(JSON.stringify(skipped))
    return
  }
  t.equal(skipped.method.serverProperties, undefined, 'not decoded')
  t.same({ ...skipped.method, serverProperties: undefined }, { ...full.method, serverProperties: undefined }, 'every other argument as the full decode reads it')
  // The table's length still has to fit the frame: a Start cut inside the table is refused.
  const cut = decodeMethod(payload.subarray(0, 20), undefined, { skipServerProperties: true })
  t.equal(cut.ok, false, 'a table longer than the frame is a syntax error')
  // A table whose inside is garbage is not looked at (nothing reads it), unlike the full decode.
  const garbled = Buffer.from(payload)
  garbled[10] = 0xff // inside the first field name of the table
  t.equal(decodeMethod(garbled, undefined, { skipServerProperties: true }).ok, true)
  t.equal(decodeMethod(garbled).ok, false)
  // Other methods are decoded as without the option.
  const tune = encodeMethodFrame({ name: 'connection.tune', channelMax: 1, frameMax: 4096, heartbeat: 0 })
  t.same(decodeMethod(tune.subarray(7, tune.length - 1), undefined, { skipServerProperties: true }), decodeMethod(tune.subarray(7, tune.length - 1)))
})

const TABLE: Array<[string, ConnectionMethod, Buffer]> = [
  [
    'Start-Ok',
    { name: 'connection.start-ok', clientProperties: new Map(), mechanism: 'PLAIN', response: bytes(0, 'guest', 0, 'guest'), locale: 'en_US' },
    START_OK_PAYLOAD,
  ],
  ['Secure', { name: 'connection.secure', challenge: bytes('c') }, bytes(0, 10, 0, 20, 0, 0, 0, 1, 'c')],
  ['Secure-Ok', { name: 'connection.secure-ok', response: bytes('r') }, bytes(0, 10, 0, 21, 0, 0, 0, 1, 'r')],
  [
    'Tune',
    { name: 'connection.tune', channelMax: 2047, frameMax: 131072, heartbeat: 60 },
    bytes(0, 10, 0, 30, 0x07, 0xff, 0x00, 0x02, 0x00, 0x00, 0x00, 0x3c), // channel-max, frame-max, heartbeat
  ],
  ['Tune-Ok', { name: 'connection.tune-ok', channelMax: 0, frameMax: 4096, heartbeat: 0 }, bytes(0, 10, 0, 31, 0, 0, 0, 0, 0x10, 0, 0, 0)],
  [
    'Open',
    { name: 'connection.open', virtualHost: '/', capabilities: '', insist: false },
    bytes(0, 10, 0, 40, 0x01, '/', 0x00, 0x00), // vhost "/", reserved-1 "", reserved-2 bit 0
  ],
  ['Open-Ok', { name: 'connection.open-ok', knownHosts: '' }, bytes(0, 10, 0, 41, 0x00)],
  ['Close', { name: 'connection.close', replyCode: 403, replyText: 'ACCESS_REFUSED - BLACKLIST', classId: 0, methodId: 0 }, CLOSE_PAYLOAD],
  ['Close-Ok', { name: 'connection.close-ok' }, bytes(0, 10, 0, 51)],
]

t.test('encodes and decodes every connection method byte for byte', async (t) => {
  for (const [name, method, payload] of TABLE) {
    t.same(encodeMethod(method), payload, `${name} encodes`)
    const decoded = decodeMethod(payload)
    t.same(decoded, { ok: true, method }, `${name} decodes`)
  }
})

t.test('passes methods of other classes through undecoded', async (t) => {
  const channelOpen = bytes(0, 20, 0, 10, 0x00) // Channel.Open (20,10), reserved-1 ""
  t.same(decodeMethod(channelOpen), { ok: true, method: { name: 'other', classId: 20, methodId: 10, args: bytes(0x00) } })
  t.same(decodeMethod(bytes(0, 10, 0, 60, 0)), { ok: true, method: { name: 'other', classId: 10, methodId: 60, args: bytes(0) } }, 'Connection.Blocked')
})

t.test('refuses short or overlong arguments with 502 syntax-error', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['no method id', bytes(0, 10)],
    ['Tune missing heartbeat', bytes(0, 10, 0, 30, 0, 0, 0, 0, 0x10, 0)],
    ['Close-Ok with an argument', bytes(0, 10, 0, 51, 0)],
    ['Start-Ok table overruns', bytes(0, 10, 0, 11, 0, 0, 1, 0)],
    ['Open vhost overruns', bytes(0, 10, 0, 40, 0x05, '/')],
  ]
  for (const [name, payload] of cases) {
    const decoded = decodeMethod(payload)
    t.equal(decoded.ok, false, name)
    t.equal(!decoded.ok && decoded.replyCode, 502, `${name}: 502`)
  }
})

t.test('cuts a Close reply-text to the 255 octets of a shortstr', async (t) => {
  const encoded = encodeMethod({ name: 'connection.close', replyCode: 403, replyText: 'é'.repeat(300), classId: 0, methodId: 0 })
  const decoded = decodeMethod(encoded)
  t.ok(decoded.ok && decoded.method.name === 'connection.close' && Buffer.byteLength(decoded.method.replyText) <= 255)
})

t.test('PLAIN response: authzid NUL authcid NUL passwd (RFC 4616)', async (t) => {
  t.same(parsePlainResponse(bytes(0, 'guest', 0, 'guest')), { ok: true, username: 'guest', password: 'guest' })
  t.same(parsePlainResponse(bytes('admin', 0, 'u', 0, 'p')), { ok: true, username: 'u', password: 'p', authzid: 'admin' })
  t.same(parsePlainResponse(Buffer.from('\0MDoxMjMxMjMxMjM6YWs=\0pässword', 'utf8')), {
    ok: true,
    username: 'MDoxMjMxMjMxMjM6YWs=',
    password: 'pässword',
  })
  for (const [name, input] of [
    ['one NUL', bytes(0, 'guest')],
    ['three NULs', bytes(0, 'u', 0, 'p', 0)],
    ['empty user', bytes(0, 0, 'p')],
    ['empty password', bytes(0, 'u', 0)],
    ['not UTF-8', bytes(0, 'u', 0, 0xc3, 0x28)],
    ['empty', bytes()],
  ] as const) {
    t.equal(parsePlainResponse(input).ok, false, name)
  }
})

t.test('AMQPLAIN response: a table body with LOGIN and PASSWORD', async (t) => {
  const response = encodeFieldTableBody(new Map([['LOGIN', longstr('guest')], ['PASSWORD', longstr('secret')]]))
  t.same(
    response,
    bytes(
      0x05, 'LOGIN', 'S', 0x00, 0x00, 0x00, 0x05, 'guest',
      0x08, 'PASSWORD', 'S', 0x00, 0x00, 0x00, 0x06, 'secret',
    ),
  )
  t.same(parseAmqplainResponse(response), { ok: true, username: 'guest', password: 'secret' })
  const noPassword = encodeFieldTableBody(new Map([['LOGIN', longstr('guest')]]))
  t.equal(parseAmqplainResponse(noPassword).ok, false, 'PASSWORD missing')
  const wrongType = encodeFieldTableBody(new Map([['LOGIN', bool(true)], ['PASSWORD', longstr('x')]]))
  t.equal(parseAmqplainResponse(wrongType).ok, false, 'LOGIN not a long string')
  const nested = encodeFieldTableBody(new Map([['LOGIN', longstr('u')], ['PASSWORD', longstr('p')], ['X', table([])]]))
  t.equal(parseAmqplainResponse(nested).ok, false, 'nested table refused (depth cap 1)')
  t.equal(parseAmqplainResponse(bytes(0x05, 'LOG')).ok, false, 'truncated')
})
