import t from 'tap'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import { HEAD_DONE, HEAD_FAILED, PublishHead } from '../../src/protocols/mqtt/authorization/publish-head'
import { rewritePublishHead, rewrittenPacketSize } from '../../src/protocols/mqtt/authorization/publish-gate'
import { gatewaySuback, mergeSuback, PendingSubacks, readSubscribe, subscribeSubset, subscriptionTopic } from '../../src/protocols/mqtt/authorization/subscribe'
import type { SubscribeRead } from '../../src/protocols/mqtt/authorization/subscribe'
import { TopicAliases } from '../../src/protocols/mqtt/authorization/topic-aliases'
import { encodeAck, PACKET_TYPE } from '../../src/protocols/mqtt/authorization/wire'
import { bytes, str16 } from './fixture-bytes'

function parse(version: 4 | 5, buf: Buffer): Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: version })
  const out: Packet[] = []
  parser.on('packet', (p) => out.push(p))
  parser.on('error', (err) => { throw err })
  parser.parse(buf)
  return out
}

t.test('the gateway\'s acknowledgements, byte for byte (MQTT 5 §3.4.2.1, §3.4.2.2.1)', async (t) => {
  t.same(encodeAck(PACKET_TYPE.PUBACK, 0x0102), bytes(0x40, 0x02, [0x01, 0x02]), 'PUBACK, success: reason and properties left out')
  t.same(encodeAck(PACKET_TYPE.PUBREC, 9, 0x00), bytes(0x50, 0x02, [0x00, 0x09]), 'PUBREC, explicit success is the short form too')
  t.same(encodeAck(PACKET_TYPE.PUBCOMP, 65535), bytes(0x70, 0x02, [0xff, 0xff]), 'PUBCOMP')
  t.same(encodeAck(PACKET_TYPE.PUBACK, 7, 0x87), bytes(0x40, 0x03, [0x00, 0x07], 0x87), 'PUBACK 0x87: remaining length 3, no property length')
  t.match(parse(5, encodeAck(PACKET_TYPE.PUBREC, 7, 0x87)), [{ cmd: 'pubrec', messageId: 7, reasonCode: 0x87 }], 'mqtt-packet reads it')
  t.match(parse(4, encodeAck(PACKET_TYPE.PUBCOMP, 8)), [{ cmd: 'pubcomp', messageId: 8 }])
})

t.test('PublishHead reads topic, packet id and Topic Alias in place, asking for more as it goes', async (t) => {
  const v5 = bytes(
    0x34, 0x16, //                         PUBLISH QoS 2, remaining length 22
    str16('a/b'), //                       topic
    [0x12, 0x34], //                       packet id
    0x0b, //                               property length 11
    0x02, [0, 0, 0, 60], //                Message Expiry Interval 60
    0x23, [0x00, 0x05], //                 Topic Alias 5
    0x0b, 0x81, 0x01, //                   Subscription Identifier 129 (two-octet VBI)
    'PAY', //                              payload (3)
  )
  t.equal(v5.length, 24)
  const head = new PublishHead()
  // Restartable: fed growing prefixes, it answers the next octet count it needs, then reads.
  const needs: number[] = []
  let avail = 2
  for (let r = head.read(v5, 0, avail, v5[0] as number, 2, true); r !== HEAD_DONE; r = head.read(v5, 0, avail, v5[0] as number, 2, true)) {
    if (!(r > avail && r <= v5.length)) {
      t.fail(`asked for ${r} octets with ${avail} at hand`)
      break
    }
    needs.push(r)
    avail = r
  }
  t.same(needs, [4, 10, 21], 'topic length; topic + packet id + first property length octet; the properties')
  t.match(head, { qos: 2, topic: 'a/b', topicLength: 3, topicAt: 2, packetId: 0x1234, alias: 5, end: 21 })

  const v4 = bytes(0x30, 0x06, str16('t'), 'ABC') // QoS 0: no packet id, no properties
  t.equal(head.read(v4, 0, v4.length, 0x30, 2, false), HEAD_DONE)
  t.match(head, { qos: 0, topic: 't', packetId: 0, alias: 0, end: 5 })

  const offset = Buffer.concat([Buffer.from('junk'), v4])
  t.equal(head.read(offset, 4, v4.length, 0x30, 2, false), HEAD_DONE, 'read at an offset into a chunk')
  t.equal(head.topic, 't')

  const userProps = bytes(0x30, 0x0f, str16('u'), 0x0a, 0x26, str16('k'), str16('vv'), 0x01, 0x01, 'x')
  t.equal(head.read(userProps, 0, userProps.length, 0x30, 2, true), HEAD_DONE)
  t.equal(head.alias, 0, 'no alias among other properties')
})

t.test('PublishHead refuses what it cannot size or what MQTT forbids', async (t) => {
  const cases: ReadonlyArray<readonly [string, Buffer, boolean, RegExp]> = [
    ['QoS 3', bytes(0x36, 0x05, str16('a'), [0, 1]), false, /QoS 3/],
    ['packet id 0', bytes(0x32, 0x05, str16('a'), [0, 0]), false, /identifier 0/],
    ['five-octet property length', bytes(0x30, 0x09, str16('a'), 0x80, 0x80, 0x80, 0x80, 0x01, 0x00), true, /longer than four/],
    ['unknown property', bytes(0x30, 0x06, str16('a'), 0x02, 0x11, 0x00), true, /unknown PUBLISH property/],
    ['Topic Alias 0', bytes(0x30, 0x07, str16('a'), 0x03, 0x23, [0, 0]), true, /Topic Alias 0/],
    ['two Topic Aliases', bytes(0x30, 0x0a, str16('a'), 0x06, 0x23, [0, 1], 0x23, [0, 1]), true, /two Topic Aliases/],
    ['a string overrunning the block', bytes(0x30, 0x08, str16('a'), 0x04, 0x08, [0x00, 0x09], 0x41), true, /overrun/],
    ['a truncated Subscription Identifier', bytes(0x30, 0x06, str16('a'), 0x02, 0x0b, 0x80), true, /truncated Subscription Identifier/],
  ]
  for (const [name, buf, v5, detail] of cases) {
    const head = new PublishHead()
    t.equal(head.read(buf, 0, buf.length, buf[0] as number, 2, v5), HEAD_FAILED, name)
    t.match(head.detail, detail, name)
  }
})

t.test('an alias-only PUBLISH rewritten to name its topic keeps everything else', async (t) => {
  const aliasOnly = bytes(0x32, 0x0b, str16(''), [0x00, 0x21], 0x03, 0x23, [0x00, 0x02], 'xyz')
  const head = new PublishHead()
  t.equal(head.read(aliasOnly, 0, aliasOnly.length, 0x32, 2, true), HEAD_DONE)
  const prefix = rewritePublishHead(aliasOnly, 0, head, 11, 'é/t')
  t.same(prefix, bytes(0x32, 0x0f, str16('é/t'), [0x00, 0x21], 0x03, 0x23, [0x00, 0x02]), 'a UTF-8 topic of 4 octets')
  const whole = Buffer.concat([prefix, aliasOnly.subarray(head.end)])
  t.equal(rewrittenPacketSize(11, 'é/t'), whole.length)
  t.match(parse(5, whole), [{ cmd: 'publish', topic: 'é/t', messageId: 0x21, properties: { topicAlias: 2 }, payload: Buffer.from('xyz') }])
  const long = 'l'.repeat(200) // the Remaining Length grows to two octets
  const longer = rewritePublishHead(aliasOnly, 0, head, 11, long)
  t.same(longer.subarray(0, 3), bytes(0x32, 0xd3, 0x01), 'remaining length 211 as a two-octet VBI')
  t.equal(rewrittenPacketSize(11, long), longer.length + 3)
})

t.test('readSubscribe walks every entry; a shared subscription is decided on its filter', async (t) => {
  const packet = bytes(
    0x82, 0x18, //                         SUBSCRIBE, remaining length 24
    [0x00, 0x0a], //                       packet id 10
    0x02, 0x0b, 0x07, //                   properties (2): Subscription Identifier 7
    str16('a/#'), 0x01, //                 filter, options
    str16('$share/g/b'), 0x2e, //          shared, options with NL RAP RH
  )
  const read = readSubscribe(packet, 0, 2, packet.length, true) as SubscribeRead
  t.match(read, { packetId: 10, propertiesFrom: 4, propertiesTo: 7, entryAt: [7, 13], filters: ['a/#', '$share/g/b'] })
  t.same(read.filters.map(subscriptionTopic), ['a/#', 'b'])
  t.equal(subscriptionTopic('$share/grp'), '$share/grp', 'no filter after the group: not a shared subscription')
  t.equal(subscriptionTopic('$shared/x'), '$shared/x')
  t.equal(subscriptionTopic('$share/g/$share/h/x'), '$share/h/x', 'stripped once')

  const subset = subscribeSubset(packet, 0, packet.length, read, Uint8Array.from([1, 0]))
  t.same(subset, bytes(0x82, 0x12, [0x00, 0x0a], 0x02, 0x0b, 0x07, str16('$share/g/b'), 0x2e))
  t.match(parse(5, subset), [{ cmd: 'subscribe', messageId: 10, properties: { subscriptionIdentifier: 7 }, subscriptions: [{ topic: '$share/g/b', qos: 2, nl: true, rap: true, rh: 2 }] }])

  t.equal(readSubscribe(bytes(0x82, 0x02, [0, 1]), 0, 2, 4, false), 'SUBSCRIBE without topic filters [MQTT-3.8.3-3]')
  t.match(readSubscribe(bytes(0x82, 0x03, [0, 1], 0x05), 0, 2, 5, true), /properties overrun/)
  t.match(readSubscribe(bytes(0x82, 0x01, 0), 0, 2, 3, false), /without a packet identifier/)
})

t.test('the gateway\'s own SUBACK and the merge of the broker\'s (MQTT 3.1.1 §3.9.3, MQTT 5 §3.9.3)', async (t) => {
  t.same(gatewaySuback(1, 3, 0x80, false), bytes(0x90, 0x05, [0x00, 0x01], 0x80, 0x80, 0x80))
  t.same(gatewaySuback(2, 1, 0x87, true), bytes(0x90, 0x04, [0x00, 0x02], 0x00, 0x87))
  t.match(parse(5, gatewaySuback(2, 1, 0x87, true)), [{ cmd: 'suback', messageId: 2, granted: [0x87] }])

  const brokerV4 = bytes(0x90, 0x04, [0x00, 0x05], 0x01, 0x00)
  const denied = Uint8Array.from([0, 1, 1, 0])
  t.same(mergeSuback(brokerV4, 0, 2, brokerV4.length, false, denied, 0x80, undefined), bytes(0x90, 0x06, [0x00, 0x05], 0x01, 0x80, 0x80, 0x00))

  const brokerV5 = bytes(0x90, 0x0a, [0x00, 0x05], 0x05, 0x1f, str16('ok'), 0x02, 0x01)
  const merged = mergeSuback(brokerV5, 0, 2, brokerV5.length, true, denied, 0x87, undefined) as Buffer
  t.same(merged, bytes(0x90, 0x0c, [0x00, 0x05], 0x05, 0x1f, str16('ok'), 0x02, 0x87, 0x87, 0x01), 'the broker\'s Reason String kept')
  t.same(mergeSuback(brokerV5, 0, 2, brokerV5.length, true, denied, 0x87, 12), bytes(0x90, 0x07, [0x00, 0x05], 0x00, 0x02, 0x87, 0x87, 0x01),
    'left out when it would exceed the client\'s Maximum Packet Size [MQTT-3.9.2-1]')
  t.match(mergeSuback(brokerV4, 0, 2, brokerV4.length, false, Uint8Array.from([0, 1]), 0x80, undefined), /2 reason codes for 1 forwarded/)
})

t.test('topic aliases and pending SUBACKs are bounded', async (t) => {
  const aliases = new TopicAliases(10)
  t.ok(aliases.set(1, 'abcd'))
  t.ok(aliases.learn(1, 'abcd'))
  t.notOk(aliases.set(2, 'abc'), '4 + 4 + 3 > 10')
  t.ok(aliases.set(1, 'ab'), 'replacing frees what it held')
  t.equal(aliases.topicOf(1), 'ab')
  t.notOk(aliases.knows(1, 'ab'), 'the receiver still has the old topic')
  t.ok(aliases.knows(1, 'abcd'))

  const pending = new PendingSubacks(5)
  t.ok(pending.set(1, new Uint8Array(3)))
  t.notOk(pending.set(2, new Uint8Array(3)))
  t.ok(pending.set(1, new Uint8Array(5)), 'a reused id replaces its entry')
  t.equal(pending.size, 1)
  t.equal(pending.take(1)?.length, 5)
  t.equal(pending.take(1), undefined)
  t.ok(pending.set(2, new Uint8Array(5)), 'taken entries free the budget')
})
