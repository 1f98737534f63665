import type { Duplex } from 'node:stream'
import { FrameReader, FRAME_TYPES, type AmqpFrame } from './frame-codec'
import { decodeMethod, type ConnectionMethod } from './methods'
import { readFrom } from '../../proxy/read-client'

/** A peer that broke the AMQP framing or sent a method the handshake does not allow here. */
export class AmqpHandshakeError extends Error {
  constructor(readonly detail: string, readonly replyCode: number, readonly peer: 'client' | 'backend') {
    super(detail)
  }
}

/**
 * Connection-class methods from one peer during the handshake (AMQP 0-9-1 §2.2.4), through a
 * capped FrameReader. Frames that arrive together (Tune-Ok and Open in one write) are queued, and
 * anything the peer sent after the last method the handshake reads is handed on verbatim with
 * `drain()` so that no pipelined byte is lost.
 */
export class HandshakeFrames {
  private readonly queue: AmqpFrame[] = []
  private readonly reader: FrameReader

  constructor(
    private readonly stream: Duplex,
    private readonly signal: AbortSignal,
    private readonly peer: 'client' | 'backend',
    maxFrameSize: number,
    initial?: Buffer,
  ) {
    this.reader = new FrameReader(maxFrameSize)
    // Frames that came with the protocol header stay queued for next() (accept would hand one out).
    if (initial !== undefined && initial.length > 0) this.queue.unshift(...this.decode(initial))
  }

  /** The next connection method on channel 0; heartbeats are skipped. */
  async next(): Promise<ConnectionMethod> {
    for (;;) {
      const frame = this.queue.shift() ?? await readFrom(this.stream, this.signal, (chunk) => this.accept(chunk), this.peer)
      if (frame.type === FRAME_TYPES.HEARTBEAT) continue
      if (frame.type !== FRAME_TYPES.METHOD || frame.channel !== 0) {
        throw new AmqpHandshakeError(`unexpected frame type ${frame.type} on channel ${frame.channel} during the handshake`, 505, this.peer)
      }
      // Nothing reads the broker's server-properties (backend-login.ts): they are not decoded.
      const decoded = decodeMethod(frame.payload, undefined, this.peer === 'backend' ? SKIP_SERVER_PROPERTIES : undefined)
      if (!decoded.ok) throw new AmqpHandshakeError(decoded.detail, decoded.replyCode, this.peer)
      if (decoded.method.name === 'other') {
        throw new AmqpHandshakeError(`method ${decoded.method.classId}.${decoded.method.methodId} during the handshake`, 503, this.peer)
      }
      return decoded.method
    }
  }

  /** Whatever arrived after the frames read so far, re-framed, for the peer on the other side. */
  drain(): Buffer[] {
    const out = this.queue.map((f) => frameBytes(f))
    this.queue.length = 0
    const partial = this.reader.takePending()
    if (partial.length > 0) out.push(partial)
    return out
  }

  private accept(chunk: Buffer): AmqpFrame | undefined {
    this.queue.push(...this.decode(chunk))
    return this.queue.shift()
  }

  private decode(chunk: Buffer): readonly AmqpFrame[] {
    const result = this.reader.push(chunk)
    if (result.kind === 'error') {
      this.queue.push(...result.frames)
      throw new AmqpHandshakeError(result.error.detail, result.error.replyCode, this.peer)
    }
    return result.frames
  }
}

const SKIP_SERVER_PROPERTIES = { skipServerProperties: true } as const

function frameBytes(frame: AmqpFrame): Buffer {
  const out = Buffer.allocUnsafe(frame.payload.length + 8)
  out.writeUInt8(frame.type, 0)
  out.writeUInt16BE(frame.channel, 1)
  out.writeUInt32BE(frame.payload.length, 3)
  frame.payload.copy(out, 7)
  out.writeUInt8(0xce, frame.payload.length + 7)
  return out
}
