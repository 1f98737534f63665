import t from 'tap'
import mqttPacket from 'mqtt-packet'
import type { IConnectPacket } from 'mqtt-packet'
import { ConnectReader } from '../../src/protocols/mqtt/connect-decoder'
import type { ConnectReadResult } from '../../src/protocols/mqtt/connect-decoder'
import { encodeConnect } from '../../src/protocols/mqtt/connect-encoder'
import { mutate, prng, randomBytes, randomChunks, randomInt } from './fixture-bytes'

const SEEDS: IConnectPacket[] = [
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'abc', keepalive: 60, clean: true },
  { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'abc', keepalive: 0, clean: false, username: 'u', password: Buffer.from('p') },
  {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 5,
    clientId: 'dev',
    keepalive: 30,
    clean: true,
    username: 'user',
    password: Buffer.from('pw'),
    will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: true, properties: { willDelayInterval: 1, contentType: 'text', userProperties: { a: 'b' } } },
    properties: { sessionExpiryInterval: 10, receiveMaximum: 5, authenticationMethod: 'm', userProperties: { k: 'v' } },
  },
]
const VALID = SEEDS.map((p) => mqttPacket.generate(p))
const KINDS = new Set(['need-more', 'connect', 'error'])

/** Feeds chunks until a result; checks the invariants every result must keep. */
function feed(t: tap.Test, input: Buffer, chunks: Buffer[], max: number): ConnectReadResult {
  const reader = new ConnectReader(max)
  let pushed = 0
  let result: ConnectReadResult = { kind: 'need-more' }
  for (const chunk of chunks) {
    result = reader.push(chunk)
    pushed += chunk.length
    if (!KINDS.has(result.kind)) t.fail(`unexpected kind ${JSON.stringify(result)}`)
    // Waiting is bounded by the cap, or by the fixed header (5) and the octets that name the
    // version of an over-cap CONNECT (2 + 6 + 1), so that its refusal is in the client's version.
    if (result.kind === 'need-more' && pushed >= Math.max(max, 5 + 9 + 1)) {
      t.fail(`need-more after ${pushed} octets with cap ${max}: ${input.toString('hex')}`)
    }
    if (result.kind !== 'need-more') break
  }
  if (result.kind === 'connect') {
    if (result.raw.length > max) t.fail(`CONNECT of ${result.raw.length} over cap ${max}`)
    const consumed = Buffer.concat([result.raw, result.rest])
    if (!consumed.equals(input.subarray(0, consumed.length))) t.fail('raw + rest is not the input')
    // Anything the walk accepts, mqtt-packet decodes to the same fields (a credential rewrite
    // depends on it), and that re-encodes to a packet of the same size.
    const decoded = result.packet.mqttPacket()
    if (typeof decoded === 'string') {
      t.fail(`accepted by the walk, refused by mqtt-packet (${decoded}): ${result.raw.toString('hex')}`)
      return result
    }
    const again = encodeConnect(decoded, {})
    if (again.length !== result.raw.length) t.fail(`re-encode changed size: ${result.raw.toString('hex')}`)
  }
  return result
}

t.test('never throws, never buffers past the cap, on 20000 mutated CONNECTs', async (t) => {
  const rand = prng(0xc0ffee)
  const counts: Record<string, number> = { 'need-more': 0, connect: 0, error: 0 }
  for (let i = 0; i < 20000; i += 1) {
    const input = mutate(rand, VALID[i % VALID.length]!)
    const max = 5 + randomInt(rand, 200)
    try {
      const result = feed(t, input, randomChunks(rand, input), max)
      counts[result.kind]! += 1
    } catch (err) {
      t.fail(`threw on ${input.toString('hex')} (cap ${max}): ${String(err)}`)
    }
  }
  t.ok(counts.connect! > 0 && counts.error! > 0, `mix of outcomes ${JSON.stringify(counts)}`)
})

t.test('never throws on 20000 random byte strings behind a CONNECT type octet', async (t) => {
  const rand = prng(42)
  for (let i = 0; i < 20000; i += 1) {
    const body = randomBytes(rand, randomInt(rand, 120))
    const input = Buffer.concat([Buffer.from([0x10, body.length]), body])
    try {
      feed(t, input, randomChunks(rand, input), 4096)
    } catch (err) {
      t.fail(`threw on ${input.toString('hex')}: ${String(err)}`)
    }
  }
  t.pass('done')
})

t.test('never throws on 5000 fully random inputs', async (t) => {
  const rand = prng(7)
  for (let i = 0; i < 5000; i += 1) {
    const input = randomBytes(rand, randomInt(rand, 64))
    try {
      feed(t, input, randomChunks(rand, input), 1 + randomInt(rand, 100))
    } catch (err) {
      t.fail(`threw on ${input.toString('hex')}: ${String(err)}`)
    }
  }
  t.pass('done')
})
