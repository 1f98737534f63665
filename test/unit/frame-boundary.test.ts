import t from 'tap'
import type { FrameBoundary } from '../../src/proxy/frame-boundary'
import { AmqpFrameBoundary } from '../../src/protocols/amqp/frame-boundary'
import { MqttPacketBoundary } from '../../src/protocols/mqtt/packet-boundary'
import { encodeFrame } from '../../src/protocols/amqp/frame-codec'
import { encodeDisconnect } from '../../src/protocols/mqtt/connack'
import { encodeVarByteInt } from '../../src/protocols/mqtt/var-byte-int'

/** MQTT PUBLISH (QoS0) of `size` payload bytes: fixed header, topic "t", payload. */
function publish(size: number): Buffer {
  const body = Buffer.concat([Buffer.from([0, 1, 0x74]), Buffer.alloc(size, 0x61)])
  return Buffer.concat([Buffer.from([0x30]), encodeVarByteInt(body.length), body])
}

/** Feeds `stream` in pseudo-random slices and records the offsets where the tracker says "between frames". */
function boundariesSeen(tracker: FrameBoundary, stream: Buffer, seed: number): number[] {
  const seen: number[] = []
  let offset = 0
  let x = seed
  while (offset < stream.length) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const size = Math.min(1 + (x % 97), stream.length - offset)
    const chunk = stream.subarray(offset, offset + size)
    let consumed = 0
    while (consumed < chunk.length) {
      consumed += tracker.untilBoundary(chunk.subarray(consumed))
      if (tracker.atBoundary) seen.push(offset + consumed)
    }
    offset += size
  }
  return seen
}

const ends = (frames: Buffer[]): number[] => frames.reduce<number[]>((acc, f) => [...acc, (acc.at(-1) ?? 0) + f.length], [])

t.test('MQTT: the boundaries are exactly the packet ends, however the stream is sliced', async (t) => {
  const packets = [publish(0), publish(10), publish(127), publish(128), publish(16_383), publish(16_384), Buffer.from([0xd0, 0x00]), encodeDisconnect(5, 0x98) as Buffer]
  const stream = Buffer.concat(packets)
  for (const seed of [1, 7, 42, 1234]) {
    t.same(boundariesSeen(new MqttPacketBoundary(), stream, seed), ends(packets), `slicing seed ${seed}`)
  }
})

t.test('AMQP: the boundaries are exactly the frame ends, however the stream is sliced', async (t) => {
  const frames = [encodeFrame(1, 0, Buffer.alloc(12)), encodeFrame(8, 0, Buffer.alloc(0)), encodeFrame(3, 1, Buffer.alloc(70_000)), encodeFrame(2, 1, Buffer.alloc(5))]
  const stream = Buffer.concat(frames)
  for (const seed of [3, 9, 99]) {
    t.same(boundariesSeen(new AmqpFrameBoundary(), stream, seed), ends(frames), `slicing seed ${seed}`)
  }
})

t.test('feed() keeps the same state as untilBoundary()', async (t) => {
  const tracker = new MqttPacketBoundary()
  const p = publish(300)
  tracker.feed(p.subarray(0, 100))
  t.notOk(tracker.atBoundary, 'mid-packet')
  t.equal(tracker.untilBoundary(Buffer.concat([p.subarray(100), publish(1)])), p.length - 100, 'consumes exactly the rest of the packet')
  t.ok(tracker.atBoundary)
})
