import t from 'tap'
import { decodeFieldTable, encodeFieldTable, longstr, table, bool } from '../../src/protocols/amqp/field-table'
import { FrameReader, parseProtocolHeader } from '../../src/protocols/amqp/frame-codec'
import { decodeMethod, encodeMethod, encodeMethodFrame, parseAmqplainResponse, parsePlainResponse } from '../../src/protocols/amqp/methods'
import type { ConnectionMethod } from '../../src/protocols/amqp/methods'
import { mutate, prng, randomBytes, randomChunks, randomInt } from './fixture-bytes'

const SERVER_PROPERTIES = new Map([
  ['product', longstr('RabbitMQ')],
  ['capabilities', table([['publisher_confirms', bool(true)], ['basic.nack', bool(true)]])],
  ['cluster_name', longstr('rabbit@host')],
])

const METHODS: ConnectionMethod[] = [
  { name: 'connection.start', versionMajor: 0, versionMinor: 9, serverProperties: SERVER_PROPERTIES, mechanisms: 'PLAIN AMQPLAIN', locales: 'en_US' },
  { name: 'connection.start-ok', clientProperties: SERVER_PROPERTIES, mechanism: 'PLAIN', response: Buffer.from('\0u\0p'), locale: 'en_US' },
  { name: 'connection.tune', channelMax: 2047, frameMax: 131072, heartbeat: 60 },
  { name: 'connection.open', virtualHost: '/', capabilities: '', insist: false },
  { name: 'connection.close', replyCode: 403, replyText: 'ACCESS_REFUSED', classId: 0, methodId: 0 },
]
const PAYLOADS = METHODS.map(encodeMethod)
const FRAMES = METHODS.map((m) => encodeMethodFrame(m))

function noThrow(t: tap.Test, what: string, input: Buffer, fn: () => void): void {
  try {
    fn()
  } catch (err) {
    t.fail(`${what} threw on ${input.toString('hex')}: ${String(err)}`)
  }
}

t.test('FrameReader never throws and never holds a frame over its cap', async (t) => {
  const rand = prng(1)
  for (let i = 0; i < 10000; i += 1) {
    const input = i % 3 === 0 ? randomBytes(rand, randomInt(rand, 300)) : mutate(rand, Buffer.concat([FRAMES[i % FRAMES.length]!, FRAMES[(i + 1) % FRAMES.length]!]))
    const max = 8 + randomInt(rand, 400)
    noThrow(t, 'FrameReader', input, () => {
      const reader = new FrameReader(max)
      for (const chunk of randomChunks(rand, input)) {
        const result = reader.push(chunk)
        for (const f of result.frames) if (f.payload.length + 8 > max) t.fail(`frame over cap ${max}`)
        if (reader.buffered >= max) t.fail(`buffered ${reader.buffered} with cap ${max}`)
        if (result.kind === 'error') break
      }
    })
  }
  t.pass('done')
})

t.test('decodeMethod never throws; what it accepts re-encodes to the same bytes', async (t) => {
  const rand = prng(2)
  let accepted = 0
  for (let i = 0; i < 20000; i += 1) {
    const input = i % 4 === 0 ? Buffer.concat([Buffer.from([0, 10, 0, 10 * (1 + randomInt(rand, 5)) + randomInt(rand, 2)]), randomBytes(rand, randomInt(rand, 40))]) : mutate(rand, PAYLOADS[i % PAYLOADS.length]!)
    noThrow(t, 'decodeMethod', input, () => {
      const result = decodeMethod(input)
      if (result.ok && result.method.name !== 'other') {
        accepted += 1
        // Lossless only for valid UTF-8 shortstrs; the method's own bytes must at least decode again.
        const again = decodeMethod(encodeMethod(result.method))
        if (!again.ok) t.fail(`re-encoded ${result.method.name} does not decode: ${input.toString('hex')}`)
      }
    })
  }
  t.ok(accepted > 0, `${accepted} mutated methods still decoded`)
})

t.test('field tables, SASL responses and protocol headers never throw', async (t) => {
  const rand = prng(3)
  const tableBytes = encodeFieldTable(SERVER_PROPERTIES)
  for (let i = 0; i < 10000; i += 1) {
    const input = i % 2 ? mutate(rand, tableBytes) : randomBytes(rand, randomInt(rand, 80))
    noThrow(t, 'decodeFieldTable', input, () => decodeFieldTable(input))
    noThrow(t, 'parsePlainResponse', input, () => parsePlainResponse(input))
    noThrow(t, 'parseAmqplainResponse', input, () => parseAmqplainResponse(input))
    noThrow(t, 'parseProtocolHeader', input, () => parseProtocolHeader(input))
  }
  t.pass('done')
})
