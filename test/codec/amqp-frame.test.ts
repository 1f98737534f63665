import t from 'tap'
import {
  FRAME_TYPES,
  FrameReader,
  PROTOCOL_HEADER,
  encodeFrame,
  encodeHeartbeat,
  parseProtocolHeader,
} from '../../src/protocols/amqp/frame-codec'
import type { FrameReadResult } from '../../src/protocols/amqp/frame-codec'
import { bytes } from './fixture-bytes'

t.test('protocol header: accepts 0-9-1 and hands back what follows', async (t) => {
  t.same(parseProtocolHeader(bytes('AMQP', 0, 0, 9, 1)), { kind: 'ok', rest: Buffer.alloc(0) })
  const withMore = parseProtocolHeader(bytes('AMQP', 0, 0, 9, 1, 0x01, 0x00))
  t.same(withMore.kind === 'ok' && withMore.rest, bytes(0x01, 0x00))
  t.same(parseProtocolHeader(bytes('AMQ')), { kind: 'need-more' })
  t.same(parseProtocolHeader(Buffer.alloc(0)), { kind: 'need-more' })
})

t.test('protocol header: a wrong header is answered with ours (§4.2.2), decided at the first differing octet', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['AMQP 1.0', bytes('AMQP', 0, 1, 0, 0)],
    ['AMQP 0-8', bytes('AMQP', 1, 1, 8, 0)],
    ['TLS ClientHello on a plaintext port', bytes(0x16, 0x03, 0x01)],
    ['HTTP', bytes('GET / HTTP/1.1\r\n')],
    ['one wrong octet', bytes('X')],
  ]
  for (const [name, input] of cases) {
    const result = parseProtocolHeader(input)
    t.equal(result.kind, 'mismatch', name)
    t.same(result.kind === 'mismatch' && result.reply, PROTOCOL_HEADER, `${name}: reply is AMQP 0-9-1`)
  }
})

const HEARTBEAT = bytes(
  0x08, //                  type 8 heartbeat
  0x00, 0x00, //            channel 0
  0x00, 0x00, 0x00, 0x00, // size 0
  0xce, //                  frame-end
)

const TUNE_OK = bytes(
  0x01, //                  type 1 method
  0x00, 0x00, //            channel 0
  0x00, 0x00, 0x00, 0x0c, // size 12
  0x00, 0x0a, 0x00, 0x1f, // Connection.Tune-Ok (10,31)
  0x07, 0xff, //            channel-max 2047
  0x00, 0x02, 0x00, 0x00, // frame-max 131072
  0x00, 0x3c, //            heartbeat 60
  0xce,
)

t.test('encodes frames and heartbeats byte for byte', async (t) => {
  t.same(encodeHeartbeat(), HEARTBEAT)
  t.same(encodeFrame(FRAME_TYPES.METHOD, 0, TUNE_OK.subarray(7, -1)), TUNE_OK)
})

function frames(result: FrameReadResult): Array<{ type: number; channel: number; payload: string }> {
  return result.frames.map((f) => ({ type: f.type, channel: f.channel, payload: f.payload.toString('hex') }))
}

t.test('reads several frames from one chunk and one frame from many chunks', async (t) => {
  const reader = new FrameReader(4096)
  const all = reader.push(Buffer.concat([HEARTBEAT, TUNE_OK, HEARTBEAT]))
  t.equal(all.kind, 'frames')
  t.same(frames(all), [
    { type: 8, channel: 0, payload: '' },
    { type: 1, channel: 0, payload: TUNE_OK.subarray(7, -1).toString('hex') },
    { type: 8, channel: 0, payload: '' },
  ])
  const split = new FrameReader(4096)
  const seen: FrameReadResult[] = []
  for (const byte of TUNE_OK) seen.push(split.push(Buffer.from([byte])))
  t.equal(seen.slice(0, -1).every((r) => r.kind === 'frames' && r.frames.length === 0), true, 'nothing before the end')
  t.equal(seen.at(-1)?.frames.length, 1, 'the frame on its last octet')
  t.equal(split.buffered, 0)
})

t.test('refuses bad frames with 501 frame-error', async (t) => {
  const cases: Array<[string, Buffer, string]> = [
    ['frame-end not 0xCE', bytes(0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcd), 'BAD_FRAME_END'],
    ['unknown frame type 4', bytes(0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xce), 'UNKNOWN_FRAME_TYPE'],
    ['AMQP header sent again', bytes('AMQP', 0, 0, 9, 1), 'UNKNOWN_FRAME_TYPE'],
  ]
  for (const [name, input, code] of cases) {
    const result = new FrameReader(4096).push(input)
    t.equal(result.kind === 'error' && result.error.code, code, name)
    t.equal(result.kind === 'error' && result.error.replyCode, 501, `${name}: 501`)
  }
})

t.test('refuses an oversized frame from its 7-octet header, before the payload arrives', async (t) => {
  const reader = new FrameReader(4096)
  const header = bytes(0x03, 0x00, 0x01, 0x00, 0x00, 0x0f, 0xf9) // body frame, size 4089 → 4097 with framing
  const result = reader.push(header)
  t.equal(result.kind === 'error' && result.error.code, 'FRAME_TOO_LARGE')
  t.equal(reader.push(Buffer.alloc(10)).kind, 'error', 'stays failed')
  const fits = new FrameReader(4096).push(bytes(0x03, 0x00, 0x01, 0x00, 0x00, 0x0f, 0xf8)) // exactly 4096
  t.equal(fits.kind, 'frames')
})

t.test('keeps frames decoded before an error in the same push', async (t) => {
  const result = new FrameReader(4096).push(Buffer.concat([HEARTBEAT, bytes(0x09, 0, 0, 0, 0, 0, 0, 0xce)]))
  t.equal(result.kind, 'error')
  t.equal(result.frames.length, 1)
})

t.test('setMaxFrameSize applies the negotiated frame-max', async (t) => {
  const reader = new FrameReader(4096)
  reader.setMaxFrameSize(131072)
  const big = encodeFrame(FRAME_TYPES.BODY, 1, Buffer.alloc(100000))
  const result = reader.push(big)
  t.equal(result.kind === 'frames' && result.frames[0]?.payload.length, 100000)
})
