import t from 'tap'
import { Writable } from 'node:stream'
import type { Socket } from 'node:net'
import type { ProtocolVersion } from '../../src/protocols/mqtt/connect-layout'
import { bytes, str16 } from '../codec/fixture-bytes'
import { acks, harness, packets, publish, suback, subscribe, wire } from './mqtt-authorization-harness'

// Stage tests of the MQTT authorization filters (src/protocols/mqtt/authorization/), both
// directions over in-memory sockets, with a topic-list authorizer standing in for the policies.

const DENIED = {
  'mqtt:Publish': ['deny/p'],
  'mqtt:Subscribe': ['deny/#', 'deny/s'],
  'mqtt:Receive': ['deny/r'],
} as const

const VERSIONS: readonly ProtocolVersion[] = [4, 5]
const pingreq = bytes(0xc0, 0x00)

/** A socket that records every write as the very Buffer it was given. */
function recordingSocket(): { socket: Socket; writes: Buffer[] } {
  const writes: Buffer[] = []
  const socket = new Writable({ write(chunk: Buffer, _e, done) { writes.push(chunk); done() } })
  return { socket: socket as unknown as Socket, writes }
}

/** A socket that takes writes but never completes them: a reader that stopped reading. */
function stuckSocket(highWaterMark: number): Socket {
  return new Writable({ highWaterMark, write() {} }) as unknown as Socket
}

for (const v of VERSIONS) {
  t.test(`MQTT ${v === 5 ? '5' : '3.1.1'}: allowed packets pass byte for byte`, async (t) => {
    const h = harness(v, { denied: DENIED })
    const stream = Buffer.concat([
      wire(v, publish('a/b', 0, undefined)),
      wire(v, publish('a/c', 1, 7, Buffer.alloc(300, 1))),
      wire(v, publish('a/d', 2, 8)),
      wire(v, subscribe(9, ['a/#', { topic: 'b/+', qos: 2 }])),
      wire(v, { cmd: 'unsubscribe', messageId: 10, unsubscriptions: ['deny/s'] }),
      pingreq,
    ])
    h.up(stream)
    t.same(h.broker(), stream, 'the broker gets exactly what the client sent')
    t.same(h.client(), Buffer.alloc(0), 'nothing is answered by the gateway')
    t.same(h.ends, [])
    t.same(h.authorizer.calls, [
      ['mqtt:Publish', 'a/b'], ['mqtt:Publish', 'a/c'], ['mqtt:Publish', 'a/d'],
      ['mqtt:Subscribe', 'a/#'], ['mqtt:Subscribe', 'b/+'],
    ], 'one decision per PUBLISH and per filter; UNSUBSCRIBE and PINGREQ are not decided')
  })

  t.test(`MQTT ${v === 5 ? '5' : '3.1.1'}: a chunk of allowed PUBLISHes is one write of the chunk itself`, async (t) => {
    const rec = recordingSocket()
    const h = harness(v, { denied: DENIED, upstreamSocket: rec.socket })
    const chunk = Buffer.concat(Array.from({ length: 20 }, (_, i) => wire(v, publish(`a/${i}`, 1, i + 1))))
    h.up(chunk)
    t.equal(rec.writes.length, 1)
    t.equal(rec.writes[0], chunk, 'the same Buffer, not a copy')
  })

  t.test(`MQTT ${v === 5 ? '5' : '3.1.1'}: a denied QoS 0 PUBLISH is dropped and the stream around it passes`, async (t) => {
    const h = harness(v, { denied: DENIED })
    const before = wire(v, publish('a/1', 0, undefined))
    const after = wire(v, publish('a/2', 1, 3))
    h.up(Buffer.concat([before, wire(v, publish('deny/p', 0, undefined, Buffer.alloc(5000))), after]))
    t.same(h.broker(), Buffer.concat([before, after]))
    t.same(h.client(), Buffer.alloc(0))
    t.same(h.ends, [])
  })
}

t.test('MQTT 5: a denied QoS 1 PUBLISH is answered PUBACK 0x87, a QoS 2 one PUBREC 0x87; the broker sees neither', async (t) => {
  const h = harness(5, { denied: DENIED })
  const ok = wire(5, publish('a/1', 1, 1))
  h.up(Buffer.concat([ok, wire(5, publish('deny/p', 1, 2)), wire(5, publish('deny/p', 2, 3)), ok]))
  t.same(h.broker(), Buffer.concat([ok, ok]))
  t.same(h.client(), bytes(
    0x40, 0x03, [0x00, 0x02], 0x87, // PUBACK id 2, Not authorized (no property length: MQTT 5 §3.4.2.2.1)
    0x50, 0x03, [0x00, 0x03], 0x87, // PUBREC id 3, Not authorized: the QoS 2 exchange ends (§4.3.3)
  ))
  t.same(h.ends, [])
})

t.test('MQTT 3.1.1 and 3.1: a denied QoS 1 or 2 PUBLISH ends the session NOT_AUTHORIZED after what came before it', async (t) => {
  for (const v of [3, 4] as const) {
    for (const qos of [1, 2] as const) {
      const h = harness(v, { denied: DENIED })
      const ok = wire(v, publish('a/1', 1, 1))
      h.up(Buffer.concat([ok, wire(v, publish('deny/p', qos, 2)), ok]))
      t.same(h.broker(), ok, `v${v} QoS ${qos}: only the packet before the denied one went on`)
      t.same(h.client(), Buffer.alloc(0), 'no PUBACK: 3.x has no code to refuse with')
      t.equal(h.ends.length, 1)
      t.equal(h.ends[0]?.cause, 'NOT_AUTHORIZED')
      h.up(ok)
      t.same(h.broker(), ok, 'nothing is read after the end')
    }
  }
})

for (const v of [3, 4, 5] as const) {
  const failure = v === 5 ? 0x87 : 0x80
  t.test(`MQTT ${v}: SUBSCRIBE with some filters denied goes on with the rest; the SUBACK answers every filter`, async (t) => {
    const h = harness(v, { denied: DENIED })
    const props = v === 5 ? { subscriptionIdentifier: 42, userProperties: { k: 'v' } } : undefined
    const opts = v === 5 ? { nl: true, rap: true, rh: 2 } : {}
    h.up(wire(v, subscribe(7, [
      { topic: 'deny/s', qos: 1 },
      { topic: 'a/+', qos: 2, ...opts },
      { topic: '$share/g/deny/#', qos: 0 },
      { topic: 'b', qos: 1 },
    ], props)))
    t.same(h.broker(), wire(v, subscribe(7, [{ topic: 'a/+', qos: 2, ...opts }, { topic: 'b', qos: 1 }], props)),
      'same packet id, properties and options, the denied filters left out')
    t.same(h.authorizer.calls.map(([, f]) => f), ['deny/s', 'a/+', 'deny/#', 'b'], 'a shared subscription is decided on its filter')
    t.same(h.client(), Buffer.alloc(0), 'no SUBACK yet: the broker answers')

    const other = wire(v, suback(8, [1]))
    const brokerSuback = wire(v, suback(7, [2, 1], v === 5 ? { reasonString: 'ok' } : undefined))
    h.down(Buffer.concat([other, brokerSuback]))
    t.same(h.client(), Buffer.concat([other, wire(v, suback(7, [failure, 2, failure, 1], v === 5 ? { reasonString: 'ok' } : undefined))]),
      'a SUBACK for another id passes; ours gets a code per filter, in the client\'s order')
    h.down(brokerSuback)
    t.same(packets(v, h.client()).length, 3, 'a second SUBACK for the id is the broker\'s business: it passes')
    t.same(h.ends, [])
  })

  t.test(`MQTT ${v}: SUBSCRIBE with every filter denied is answered by the gateway`, async (t) => {
    const h = harness(v, { denied: DENIED })
    h.up(wire(v, subscribe(300, ['deny/s', 'deny/#'])))
    t.same(h.broker(), Buffer.alloc(0), 'the broker never sees it')
    t.same(h.client(), v === 5
      ? bytes(0x90, 0x05, [0x01, 0x2c], 0x00, 0x87, 0x87) // SUBACK id 300, no properties, Not authorized ×2
      : bytes(0x90, 0x04, [0x01, 0x2c], 0x80, 0x80)) //     SUBACK id 300, Failure ×2
  })
}

t.test('MQTT 5: an alias set by a dropped PUBLISH still means that topic, so its alias-only uses are denied too', async (t) => {
  const h = harness(5, { denied: { 'mqtt:Publish': ['deny/p'] } })
  h.up(wire(5, publish('deny/p', 0, undefined, 'a', { topicAlias: 1 })))
  h.up(wire(5, publish('', 1, 4, 'b', { topicAlias: 1 })))
  t.same(h.broker(), Buffer.alloc(0))
  t.same(h.authorizer.calls, [['mqtt:Publish', 'deny/p'], ['mqtt:Publish', 'deny/p']], 'decided on the topic the client means')
  t.same(acks(5, h.client()), [{ cmd: 'puback', messageId: 4, reasonCode: 0x87 }])
  const sets = wire(5, publish('a/x', 1, 5, 'c', { topicAlias: 1 }))
  const uses = wire(5, publish('', 1, 6, 'd', { topicAlias: 1 }))
  h.up(sets, uses)
  t.same(h.broker(), Buffer.concat([sets, uses]), 'the broker learnt alias 1 → a/x with the first: both pass untouched')
  t.same(h.ends, [])
})

/** A policy stand-in that denies `topic` until `allow()` is called: a policy change mid-session. */
function changingPolicy(h: ReturnType<typeof harness>, topic: string): { allow(): void } {
  let denied = true
  h.authorizer.mqttTopic = (_action, asked) => !(denied && asked === topic)
  return { allow: () => { denied = false } }
}

t.test('MQTT 5: an allowed alias-only PUBLISH whose alias the broker has differently is rewritten to name its topic', async (t) => {
  const h = harness(5)
  const policy = changingPolicy(h, 'p/q')
  h.up(wire(5, publish('a/y', 0, undefined, 'e', { topicAlias: 3 }))) // the broker learns 3 → a/y
  h.up(wire(5, publish('p/q', 1, 4, 'f', { topicAlias: 3 }))) // denied: dropped, PUBACK 0x87; the client has 3 → p/q
  policy.allow()
  const before = h.broker().length
  const aliasOnly = bytes(
    0x32, 0x0c, //                        PUBLISH QoS 1, remaining length 12
    str16(''), //                         empty topic name
    [0x00, 0x05], //                      packet id 5
    0x05, 0x23, [0x00, 0x03], 0x01, 0x01, // properties (5): Topic Alias 3, Payload Format Indicator 1
    'GH', //                              payload
  )
  h.up(aliasOnly)
  t.same(h.broker().subarray(before), bytes(
    0x32, 0x0f, //                        remaining length 12 + 3 topic octets
    str16('p/q'), //                      the topic the client means, spelled out
    [0x00, 0x05], //                      same packet id
    0x05, 0x23, [0x00, 0x03], 0x01, 0x01, // same properties, alias kept: the broker now has 3 → p/q
    'GH',
  ))
  h.up(aliasOnly)
  t.same(h.broker().subarray(before + 17), aliasOnly, 'once the broker has it, the alias alone passes untouched')
  t.same(acks(5, h.client()), [{ cmd: 'puback', messageId: 4, reasonCode: 0x87 }])
  t.same(h.ends, [])
})

t.test('MQTT 5: an allowed alias-only delivery whose alias the client lacks is rewritten to name its topic', async (t) => {
  const h = harness(5)
  const policy = changingPolicy(h, 'x/y')
  h.down(wire(5, publish('x/y', 1, 11, 'P', { topicAlias: 4 }))) // denied: dropped, PUBACK to the broker
  policy.allow()
  const aliasOnly = bytes(
    0x32, 0x0e, //                        PUBLISH QoS 1, remaining length 14
    str16(''), //                         empty topic name
    [0x00, 0x0c], //                      packet id 12
    0x07, 0x23, [0x00, 0x04], 0x01, 0x01, 0x0b, 0x05, // properties (7): Topic Alias 4, Payload Format 1, Subscription Identifier 5
    'QR', //                              payload
  )
  h.down(aliasOnly)
  t.same(h.client(), bytes(
    0x32, 0x11, //                        remaining length 14 + 3 topic octets
    str16('x/y'),
    [0x00, 0x0c],
    0x07, 0x23, [0x00, 0x04], 0x01, 0x01, 0x0b, 0x05, // the client learns 4 → x/y
    'QR',
  ))
  t.same(acks(5, h.broker()), [{ cmd: 'puback', messageId: 11 }], 'the dropped delivery was acknowledged to the broker')
  h.down(aliasOnly)
  t.same(h.client().subarray(19), aliasOnly, 'once the client has it, the alias alone passes untouched')
  t.same(h.ends, [])
})

t.test('MQTT 5: a PUBLISH using an alias that was never set ends the session PROTOCOL_ERROR', async (t) => {
  const up = harness(5)
  up.up(wire(5, publish('', 0, undefined, 'x', { topicAlias: 2 })))
  t.equal(up.ends[0]?.cause, 'PROTOCOL_ERROR')
  t.same(up.broker(), Buffer.alloc(0))
  const down = harness(5)
  down.down(wire(5, publish('', 1, 3, 'x', { topicAlias: 2 })))
  t.equal(down.ends[0]?.cause, 'PROTOCOL_ERROR')
  t.same(down.client(), Buffer.alloc(0))
})

t.test('MQTT 5: a delivery rewritten past the client\'s Maximum Packet Size is discarded as if sent [MQTT-3.1.2-25]', async (t) => {
  const h = harness(5, { clientMaximumPacketSize: 30 })
  const policy = changingPolicy(h, 'long/topic/name')
  h.down(wire(5, publish('long/topic/name', 2, 1, 'x', { topicAlias: 1 }))) // dropped, PUBREC to broker
  policy.allow()
  const aliasOnly = wire(5, publish('', 1, 2, Buffer.alloc(15), { topicAlias: 1 }))
  t.ok(aliasOnly.length <= 30)
  h.down(aliasOnly)
  t.same(h.client(), Buffer.alloc(0), 'with its topic it would be over 30 octets: not sent')
  t.same(acks(5, h.broker()), [{ cmd: 'pubrec', messageId: 1 }, { cmd: 'puback', messageId: 2 }], 'and acknowledged to the broker')
})

for (const v of VERSIONS) {
  t.test(`MQTT ${v === 5 ? '5' : '3.1.1'}: a delivery the client may not receive is dropped and acknowledged to the broker`, async (t) => {
    const h = harness(v, { denied: DENIED })
    const ok = wire(v, publish('a/r', 1, 100))
    h.down(Buffer.concat([
      wire(v, publish('deny/r', 0, undefined)),
      wire(v, publish('deny/r', 1, 1)),
      ok,
      wire(v, publish('deny/r', 2, 2, Buffer.alloc(2000))),
    ]))
    t.same(h.client(), ok, 'only the allowed delivery reaches the client')
    t.same(h.broker(), bytes(
      0x40, 0x02, [0x00, 0x01], // PUBACK id 1 (success: reason and properties left out, MQTT 5 §3.4.2.1)
      0x50, 0x02, [0x00, 0x02], // PUBREC id 2
    ))
    const unrelated = wire(v, { cmd: 'pubrel', messageId: 100 })
    h.down(Buffer.concat([wire(v, { cmd: 'pubrel', messageId: 2 }), unrelated]))
    t.same(h.client(), Buffer.concat([ok, unrelated]), 'the PUBREL for the gateway\'s PUBREC is the gateway\'s; another passes')
    t.same(h.broker().subarray(8), bytes(0x70, 0x02, [0x00, 0x02]), 'PUBCOMP id 2')
    h.down(wire(v, { cmd: 'pubrel', messageId: 2 }))
    t.same(h.client().subarray(ok.length + unrelated.length), wire(v, { cmd: 'pubrel', messageId: 2 }), 'answered once: a second PUBREL 2 is the client\'s')
    t.same(h.ends, [])
  })
}

t.test('an answer for the client waits while a delivery is half passed, then goes out between packets', async (t) => {
  const h = harness(5, { denied: DENIED })
  const big = wire(5, publish('a/r', 0, undefined, Buffer.alloc(10_000, 7)))
  h.down(big.subarray(0, 5000))
  t.equal(h.filters.downstream.atBoundary, false)
  t.equal(h.filters.downstream.framesStarted, 1)
  h.up(wire(5, publish('deny/p', 1, 9)))
  t.same(h.client(), big.subarray(0, 5000), 'the PUBACK does not cut into the delivery')
  const next = wire(5, publish('a/r', 0, undefined, 'n'))
  h.down(Buffer.concat([big.subarray(5000), next]))
  t.same(h.client(), Buffer.concat([big, bytes(0x40, 0x03, [0x00, 0x09], 0x87), next]), 'it follows the delivery it waited for')
  t.equal(h.filters.downstream.atBoundary, true)
  t.equal(h.filters.downstream.framesStarted, 3)
  h.up(wire(5, publish('deny/p', 1, 10)))
  t.same(h.client().subarray(-5), bytes(0x40, 0x03, [0x00, 0x0a], 0x87), 'between packets it goes out at once')
  t.equal(h.filters.downstream.framesStarted, 4)
})

t.test('untilBoundary passes only the rest of the packet in flight, for a kick\'s goodbye', async (t) => {
  const h = harness(5, { denied: DENIED })
  const big = wire(5, publish('a/r', 0, undefined, Buffer.alloc(3000, 1)))
  const next = wire(5, publish('a/r', 0, undefined, 'n'))
  t.equal(h.filters.downstream.untilBoundary(big), 0, 'between packets: nothing to pass')
  h.down(big.subarray(0, 1000))
  const rest = Buffer.concat([big.subarray(1000), next])
  t.equal(h.filters.downstream.untilBoundary(rest), big.length - 1000)
  t.equal(h.filters.downstream.atBoundary, true)
  t.same(h.client(), big)
})

t.test('an answer held for the broker waits while a client packet is half passed', async (t) => {
  const h = harness(5, { denied: DENIED })
  const big = wire(5, publish('a/p', 0, undefined, Buffer.alloc(4000, 2)))
  h.up(big.subarray(0, 100))
  h.down(wire(5, publish('deny/r', 1, 44)))
  t.same(h.broker(), big.subarray(0, 100))
  h.up(big.subarray(100))
  t.same(h.broker(), Buffer.concat([big, bytes(0x40, 0x02, [0x00, 0x2c])]))
})

t.test('a payload far larger than the inspection cap streams through; only the head is held', async (t) => {
  const h = harness(5, { denied: DENIED, maxInspectBytes: 1024 })
  const huge = wire(5, publish('a/big', 1, 1, Buffer.alloc(1_000_000, 3)))
  const cut = [3, 9, 200_000, 600_000]
  h.up(huge.subarray(0, cut[0]), huge.subarray(cut[0], cut[1]), huge.subarray(cut[1], cut[2]), huge.subarray(cut[2], cut[3]), huge.subarray(cut[3]))
  t.same(h.broker(), huge)
  const denied = wire(5, publish('deny/p', 0, undefined, Buffer.alloc(1_000_000, 3)))
  h.up(denied.subarray(0, 500_000), denied.subarray(500_000))
  t.equal(h.broker().length, huge.length, 'a denied one is skipped however large')
  t.same(h.ends, [])
})

t.test('a PUBLISH head or SUBSCRIBE over the inspection cap ends the session PROTOCOL_ERROR before it is held', async (t) => {
  const longTopic = harness(5, { maxInspectBytes: 1024 })
  const p = wire(5, publish(`a/${'t'.repeat(2000)}`, 0, undefined))
  longTopic.up(p.subarray(0, 10))
  t.equal(longTopic.ends[0]?.cause, 'PROTOCOL_ERROR')
  t.match(longTopic.ends[0]?.detail, /over limits.maxInspectedPacketBytes/)

  const bigProps = harness(5, { maxInspectBytes: 1024 })
  bigProps.up(wire(5, publish('a', 0, undefined, 'x', { userProperties: { k: 'v'.repeat(2000) } })))
  t.equal(bigProps.ends[0]?.cause, 'PROTOCOL_ERROR')

  const sub = harness(4, { maxInspectBytes: 1024 })
  const filters = Array.from({ length: 200 }, (_, i) => `a/${i}/x`)
  const s = wire(4, subscribe(1, filters))
  sub.up(s.subarray(0, 4))
  t.equal(sub.ends[0]?.cause, 'PROTOCOL_ERROR', 'refused from its fixed header alone')
  t.same(sub.broker(), Buffer.alloc(0))
})

const MALFORMED: ReadonlyArray<readonly [string, ProtocolVersion, 'up' | 'down', Buffer, RegExp]> = [
  ['a Remaining Length of five octets', 4, 'up', bytes(0x30, 0xff, 0xff, 0xff, 0xff, 0x01), /Remaining Length/],
  ['a topic longer than the packet', 4, 'up', bytes(0x30, 0x04, [0x00, 0x09], 'ab'), /PUBLISH shorter than its fields/],
  ['a PUBLISH too short for its topic length', 5, 'up', bytes(0x30, 0x01, 0x00), /PUBLISH shorter/],
  ['a QoS 1 PUBLISH without room for its packet id', 4, 'up', bytes(0x32, 0x03, str16('a')), /PUBLISH shorter/],
  ['PUBLISH QoS 3', 4, 'up', bytes(0x36, 0x05, str16('a'), [0, 1]), /QoS 3/],
  ['PUBLISH packet id 0', 4, 'up', bytes(0x32, 0x05, str16('a'), [0, 0]), /packet identifier 0/],
  ['an empty topic without an alias', 4, 'up', bytes(0x30, 0x03, str16(''), 'x'), /empty topic/],
  ['an empty topic without an alias (5)', 5, 'up', bytes(0x30, 0x03, str16(''), 0x00), /empty topic/],
  ['properties past the packet', 5, 'up', bytes(0x30, 0x05, str16('a'), 0x09, 0x01), /PUBLISH shorter/],
  ['an unknown PUBLISH property', 5, 'up', bytes(0x30, 0x06, str16('a'), 0x02, 0x7f, 0x00), /unknown PUBLISH property/],
  ['two Topic Aliases', 5, 'up', bytes(0x30, 0x0a, str16('a'), 0x06, 0x23, [0, 1], 0x23, [0, 2]), /two Topic Aliases/],
  ['Topic Alias 0', 5, 'up', bytes(0x30, 0x07, str16('a'), 0x03, 0x23, [0, 0]), /Topic Alias 0/],
  ['a property overrunning its block', 5, 'up', bytes(0x30, 0x07, str16('a'), 0x02, 0x23, [0, 1]), /truncated Topic Alias/],
  ['SUBSCRIBE without filters', 4, 'up', bytes(0x82, 0x02, [0x00, 0x01]), /without topic filters/],
  ['SUBSCRIBE without filters (5)', 5, 'up', bytes(0x82, 0x03, [0x00, 0x01], 0x00), /without topic filters/],
  ['SUBSCRIBE with a filter past the packet', 4, 'up', bytes(0x82, 0x06, [0x00, 0x01], [0x00, 0x05], 'ab'), /overruns/],
  ['SUBSCRIBE with an empty filter', 4, 'up', bytes(0x82, 0x05, [0x00, 0x01], [0x00, 0x00], 0x01), /empty SUBSCRIBE topic filter/],
  ['SUBSCRIBE without its options octet', 4, 'up', bytes(0x82, 0x05, [0x00, 0x01], str16('a')), /overruns/],
  ['SUBSCRIBE with flags 0000', 4, 'up', bytes(0x80, 0x06, [0x00, 0x01], str16('a'), 0x01), /reserved flags/],
  ['SUBSCRIBE packet id 0', 4, 'up', bytes(0x82, 0x06, [0x00, 0x00], str16('a'), 0x01), /packet identifier 0/],
  ['a delivery with a topic past the packet', 4, 'down', bytes(0x30, 0x04, [0x00, 0x09], 'ab'), /PUBLISH shorter/],
]

t.test('malformed packets end the session PROTOCOL_ERROR and pass nothing of themselves', async (t) => {
  for (const [name, v, direction, packet, detail] of MALFORMED) {
    const h = harness(v)
    const ok = wire(v, publish('a', 0, undefined))
    const results = direction === 'up' ? h.up(Buffer.concat([ok, packet, ok])) : h.down(Buffer.concat([ok, packet, ok]))
    t.same(results.length, 1, name)
    t.same(direction === 'up' ? h.broker() : h.client(), ok, `${name}: what preceded it passed, nothing after`)
    t.equal(h.ends.length, 1, name)
    t.equal(h.ends[0]?.cause, 'PROTOCOL_ERROR', name)
    t.match(h.ends[0]?.detail, detail, name)
  }
})

t.test('a broker SUBACK with the wrong number of codes for a rewritten SUBSCRIBE ends the session', async (t) => {
  const h = harness(4, { denied: DENIED })
  h.up(wire(4, subscribe(5, ['a', 'deny/s', 'b'])))
  h.down(wire(4, suback(5, [0])))
  t.equal(h.ends[0]?.cause, 'PROTOCOL_ERROR')
  t.match(h.ends[0]?.detail, /1 reason codes for 2 forwarded/)
  t.same(h.client(), Buffer.alloc(0))
})

t.test('a client reusing a packet id replaces what was pending under it', async (t) => {
  const h = harness(4, { denied: DENIED })
  h.up(wire(4, subscribe(5, ['a', 'deny/s'])))
  h.up(wire(4, subscribe(5, ['deny/s', 'b', 'c'])))
  h.down(wire(4, suback(5, [1, 1])))
  t.same(acks(4, h.client()), [{ cmd: 'suback', messageId: 5 }])
  t.same((packets(4, h.client())[0] as { granted: number[] }).granted, [0x80, 1, 1])
  const again = harness(4, { denied: DENIED })
  again.up(wire(4, subscribe(6, ['a', 'deny/s'])))
  again.up(wire(4, subscribe(6, ['b'])))
  again.down(wire(4, suback(6, [1])))
  t.same((packets(4, again.client())[0] as { granted: number[] }).granted, [1], 'an all-allowed reuse leaves nothing to rewrite')
})

t.test('push() answers false when the destination asks to wait for drain', async (t) => {
  const h = harness(4, { upstreamSocket: stuckSocket(100) })
  const small = wire(4, publish('a', 0, undefined))
  t.same(h.up(small), [true])
  t.same(h.up(wire(4, publish('a', 0, undefined, Buffer.alloc(200)))), [false])
  t.same(h.up(wire(4, publish('a', 0, undefined)).subarray(0, 2)), [false], 'a chunk that writes nothing still says the destination is full')
})

t.test('the gateway\'s answers piling up unread in the client\'s socket end the session SLOW_CONSUMER', async (t) => {
  const h = harness(5, { denied: DENIED, clientSocket: stuckSocket(16), maxInjectedBacklogBytes: 1024 })
  const denied = wire(5, publish('deny/p', 1, 1))
  for (let i = 0; i < 300 && h.ends.length === 0; i += 1) h.up(denied)
  t.equal(h.ends[0]?.cause, 'SLOW_CONSUMER')
  t.ok(h.ends.length === 1)
})

t.test('a client that never reads its SUBACKs cannot make the pending rewrites grow without bound', async (t) => {
  const h = harness(4, { denied: DENIED, maxInspectBytes: 1024 })
  const filters = [...Array.from({ length: 100 }, (_, i) => `f${i}`), 'deny/s']
  for (let id = 1; id < 100 && h.ends.length === 0; id += 1) h.up(wire(4, subscribe(id, filters)))
  t.equal(h.ends[0]?.cause, 'SLOW_CONSUMER')
})

t.test('after close() nothing passes either way', async (t) => {
  const h = harness(4)
  h.filters.close()
  h.up(wire(4, publish('a', 0, undefined)))
  h.down(wire(4, publish('a', 0, undefined)))
  t.same(h.broker(), Buffer.alloc(0))
  t.same(h.client(), Buffer.alloc(0))
})

t.test('a packet split at every octet is decided as it is whole', async (t) => {
  for (const v of VERSIONS) {
    const stream = Buffer.concat([
      wire(v, publish('a/1', 1, 1, 'one', v === 5 ? { topicAlias: 1, userProperties: { a: 'b' } } : undefined)),
      wire(v, publish('deny/p', 0, undefined, 'two')),
      wire(v, subscribe(2, ['a', 'deny/s', 'b'])),
      pingreq,
      wire(v, publish('a/3', 2, 3, Buffer.alloc(130))), // a two-octet Remaining Length
    ])
    const whole = harness(v, { denied: DENIED })
    whole.up(stream)
    const split = harness(v, { denied: DENIED })
    for (let i = 0; i < stream.length; i += 1) split.up(stream.subarray(i, i + 1))
    t.same(split.broker(), whole.broker(), `MQTT ${v}`)
    t.same(split.authorizer.calls, whole.authorizer.calls)
    t.same(split.ends, [])
  }
})
