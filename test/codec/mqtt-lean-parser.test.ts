import t from 'tap'
import mqttPacket from 'mqtt-packet'
import type { IConnectPacket, Packet } from 'mqtt-packet'
import { leanParser } from '../../src/protocols/mqtt/lean-parser'
import { mutate, prng, randomBytes } from './fixture-bytes'

const SEEDS: IConnectPacket[] = [
  { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'abc', keepalive: 60, clean: true },
  { cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'abc', keepalive: 0, clean: false, username: 'u', password: Buffer.from('p') },
  {
    cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'dev', keepalive: 30, clean: true, username: 'user', password: Buffer.from('pw'),
    will: { topic: 'w', payload: Buffer.from('x'), qos: 2, retain: true, properties: { willDelayInterval: 1, contentType: 'text', userProperties: { a: 'b' } } },
    properties: { sessionExpiryInterval: 10, receiveMaximum: 5, authenticationMethod: 'm', userProperties: { k: 'v' } },
  },
]

interface Outcome { packets: Packet[]; errors: string[]; thrown?: string; left?: number }

/** Everything a parser says about `input`: its packets, its errors, a throw, and what it kept. */
function outcome(parser: mqttPacket.Parser, input: Buffer): Outcome {
  const result: Outcome = { packets: [], errors: [] }
  parser.on('packet', (p: Packet) => result.packets.push(p))
  parser.on('error', (err: unknown) => result.errors.push(err instanceof Error ? err.message : String(err)))
  try {
    result.left = parser.parse(input)
  } catch (err) {
    result.thrown = err instanceof Error ? err.message : String(err)
  }
  return result
}

function sameAsStock(t: tap.Test, input: Buffer): void {
  const stock = outcome(mqttPacket.parser(), input)
  const lean = outcome(leanParser(), input)
  t.same(lean, stock, `same result for ${input.toString('hex')}`)
}

t.test('decodes every seed CONNECT exactly as the stock mqtt-packet parser', async (t) => {
  for (const seed of SEEDS) {
    const raw = mqttPacket.generate(seed)
    sameAsStock(t, raw)
    const lean = outcome(leanParser(), raw)
    t.equal(lean.packets.length, 1)
    t.equal((lean.packets[0] as IConnectPacket).clientId, seed.clientId)
  }
})

t.test('agrees with the stock parser on mutated and random input, errors and throws included', async (t) => {
  const rand = prng(0x1ea9)
  let disagreements = 0
  for (let i = 0; i < 3000; i++) {
    const seed = mqttPacket.generate(SEEDS[i % SEEDS.length] as IConnectPacket)
    const input = i % 4 === 3 ? randomBytes(rand, 1 + Math.floor(rand() * 64)) : mutate(rand, seed)
    const stock = outcome(mqttPacket.parser(), input)
    const lean = outcome(leanParser(), input)
    if (JSON.stringify(lean) !== JSON.stringify(stock)) {
      disagreements++
      t.same(lean, stock, `same result for ${input.toString('hex')}`)
    }
  }
  t.equal(disagreements, 0)
})

t.test('keeps no state between parsers: each starts from an empty buffer', async (t) => {
  const raw = mqttPacket.generate(SEEDS[0] as IConnectPacket)
  const first = outcome(leanParser(), raw.subarray(0, 5))
  t.same(first.packets, [], 'half a packet is not a packet')
  const second = outcome(leanParser(), raw)
  t.equal(second.packets.length, 1, 'the next parser does not see the first one\'s bytes')
})
