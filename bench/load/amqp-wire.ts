import { encodeFrame, FRAME_TYPES, PROTOCOL_HEADER } from '../../src/protocols/amqp/frame-codec'
import { encodeMethodFrame, type Tune } from '../../src/protocols/amqp/methods'
import { WireWriter } from '../../src/protocols/amqp/wire'

/**
 * AMQP 0-9-1 frames the load generator needs, pre-encoded where they repeat (issue 5 §2: amqplib
 * would be the bottleneck at 64 B). Connection methods come from the gateway's own codec; the
 * channel, queue and basic methods are encoded here (AMQP 0-9-1 §1.4 / the XML spec).
 *
 *   frame: type (1) | channel (2) | size (4) | payload (size) | 0xCE      §2.3.5 / §4.2.3
 */
export { PROTOCOL_HEADER }

export const CHANNEL = 1
const BASIC = 60

function method(channel: number, classId: number, methodId: number, args: (w: WireWriter) => WireWriter): Buffer {
  return encodeFrame(FRAME_TYPES.METHOD, channel, args(new WireWriter().u16(classId).u16(methodId)).toBuffer())
}

export function startOk(username: string, password: string): Buffer {
  return encodeMethodFrame({
    name: 'connection.start-ok',
    clientProperties: new Map(),
    mechanism: 'PLAIN',
    response: Buffer.from(`\0${username}\0${password}`, 'utf8'),
    locale: 'en_US',
  })
}

/** Tune-Ok echoing the server's limits, heartbeats off (a bench connection is never idle long). */
export function tuneOk(tune: Tune): Buffer {
  return encodeMethodFrame({ name: 'connection.tune-ok', channelMax: tune.channelMax, frameMax: tune.frameMax, heartbeat: 0 })
}

export function open(vhost = '/'): Buffer {
  return encodeMethodFrame({ name: 'connection.open', virtualHost: vhost, capabilities: '', insist: false })
}

export function close(): Buffer {
  return encodeMethodFrame({ name: 'connection.close', replyCode: 200, replyText: 'bye', classId: 0, methodId: 0 })
}

export const channelOpen = (): Buffer => method(CHANNEL, 20, 10, (w) => w.shortstr(''))

/** queue.declare, auto-delete, so the queue goes with its consumer. */
export const queueDeclare = (queue: string): Buffer =>
  method(CHANNEL, 50, 10, (w) => w.u16(0).shortstr(queue).u8(0b01000).u32(0))

/** basic.consume with no-ack: deliveries are counted, never acknowledged. */
export const basicConsume = (queue: string): Buffer =>
  method(CHANNEL, BASIC, 20, (w) => w.u16(0).shortstr(queue).shortstr('').u8(0b0010).u32(0))

/** One message through the default exchange: publish method, content header, one body frame. */
export function publishMessage(queue: string, payload: Buffer): Buffer {
  const publish = method(CHANNEL, BASIC, 40, (w) => w.u16(0).shortstr('').shortstr(queue).u8(0))
  const header = Buffer.alloc(14)
  header.writeUInt16BE(BASIC, 0)
  header.writeUInt16BE(0, 2)
  header.writeBigUInt64BE(BigInt(payload.length), 4)
  header.writeUInt16BE(0, 12)
  return Buffer.concat([publish, encodeFrame(FRAME_TYPES.HEADER, CHANNEL, header), encodeFrame(FRAME_TYPES.BODY, CHANNEL, payload)])
}

export function publishChunk(queue: string, payloadBytes: number, minBytes = 64 * 1024): { chunk: Buffer; messages: number } {
  const one = publishMessage(queue, Buffer.alloc(payloadBytes, 0x61))
  const messages = Math.max(1, Math.ceil(minBytes / one.length))
  return { chunk: Buffer.concat(Array.from({ length: messages }, () => one)), messages }
}

export const METHOD = {
  START: 0x000a000a,
  TUNE: 0x000a001e,
  OPEN_OK: 0x000a0029,
  CLOSE: 0x000a0032,
  CLOSE_OK: 0x000a0033,
  CHANNEL_OPEN_OK: 0x0014000b,
  CHANNEL_CLOSE: 0x00140028,
  QUEUE_DECLARE_OK: 0x0032000b,
  CONSUME_OK: 0x003c0015,
  DELIVER: 0x003c003c,
} as const

/**
 * Incremental frame scanner: counts Basic.Deliver methods and body bytes without copying bodies;
 * hands over other method frames (class-id << 16 | method-id, arguments) for the handshake.
 */
export class AmqpScanner {
  deliveries = 0
  bytes = 0
  private header = Buffer.alloc(7)
  private headerFill = 0
  private remaining = 0
  private type = 0
  private body: Buffer[] | undefined

  constructor(private readonly onMethod: (id: number, args: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.bytes += chunk.length
    let i = 0
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, chunk.length - i)
        this.body?.push(chunk.subarray(i, i + n))
        this.remaining -= n
        i += n
        if (this.remaining === 0) this.finish()
        continue
      }
      const n = Math.min(7 - this.headerFill, chunk.length - i)
      chunk.copy(this.header, this.headerFill, i, i + n)
      this.headerFill += n
      i += n
      if (this.headerFill === 7) {
        this.headerFill = 0
        this.type = this.header.readUInt8(0)
        // payload and the frame-end octet
        this.remaining = this.header.readUInt32BE(3) + 1
        this.body = this.type === FRAME_TYPES.METHOD ? [] : undefined
      }
    }
  }

  private finish(): void {
    if (this.body === undefined) return
    const payload = Buffer.concat(this.body)
    this.body = undefined
    const id = payload.readUInt32BE(0)
    if (id === METHOD.DELIVER) this.deliveries++
    else this.onMethod(id, payload.subarray(4, payload.length - 1))
  }
}
