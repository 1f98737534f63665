/**
 * AMQP 0-9-1 protocol header and frames.
 *
 *  protocol header (§4.2.2), sent once by the client
 *  +-----+-----+-----+-----+------+------+------+------+
 *  | 'A' | 'M' | 'Q' | 'P' | 0x00 | 0x00 | 0x09 | 0x01 |     major 0, minor 9, revision 1
 *  +-----+-----+-----+-----+------+------+------+------+
 *
 *  general frame (§4.2.3)
 *  +------+---------+--------+-------------------+-----------+
 *  | type | channel | size   | payload           | frame-end |
 *  | u8   | u16     | u32    | `size` octets     | 0xCE      |
 *  +------+---------+--------+-------------------+-----------+
 *  type: 1 method, 2 content header, 3 content body, 8 heartbeat (§4.2.3, constants §1.2)
 *
 * Guarantees: pure, never throws; a frame whose size (payload + 8 octets of framing, as frame-max
 * counts it, §4.2.3 / Connection.Tune) exceeds `maxFrameSize` is refused from its 7-octet header,
 * before its payload is buffered; the reader holds at most one frame's worth of bytes.
 */
import { REPLY_CODES } from './reply-codes'

export const PROTOCOL_HEADER = Buffer.from([0x41, 0x4d, 0x51, 0x50, 0x00, 0x00, 0x09, 0x01])

export const FRAME_TYPES = { METHOD: 1, HEADER: 2, BODY: 3, HEARTBEAT: 8 } as const
export type FrameType = (typeof FRAME_TYPES)[keyof typeof FRAME_TYPES]

export const FRAME_END = 0xce
/** type + channel + size before the payload, frame-end after it. */
export const FRAME_HEADER_SIZE = 7
export const FRAME_OVERHEAD = FRAME_HEADER_SIZE + 1
/** frame-min-size (§4.2.3 / Connection.Tune): what a peer must accept before tuning. */
export const FRAME_MIN_SIZE = 4096

export interface AmqpFrame {
  readonly type: FrameType
  readonly channel: number
  readonly payload: Buffer
}

export type ProtocolHeaderResult =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'ok'; readonly rest: Buffer }
  /**
   * §4.2.2: the server "MUST respond with a valid protocol header and then close the socket";
   * `reply` is that header (0-9-1, the version we speak).
   */
  | { readonly kind: 'mismatch'; readonly reply: Buffer; readonly detail: string }

/**
 * Checks the first bytes of a connection against the 0-9-1 header. Decides as soon as a byte
 * differs, so the caller buffers at most 7 bytes on 'need-more'.
 */
export function parseProtocolHeader(bytes: Buffer): ProtocolHeaderResult {
  const n = Math.min(bytes.length, PROTOCOL_HEADER.length)
  if (!bytes.subarray(0, n).equals(PROTOCOL_HEADER.subarray(0, n))) {
    return { kind: 'mismatch', reply: PROTOCOL_HEADER, detail: describeHeader(bytes.subarray(0, 8)) }
  }
  if (n < PROTOCOL_HEADER.length) return { kind: 'need-more' }
  return { kind: 'ok', rest: bytes.subarray(PROTOCOL_HEADER.length) }
}

function describeHeader(bytes: Buffer): string {
  if (bytes.subarray(0, 4).toString('latin1') === 'AMQP' && bytes.length >= 8) {
    return `unsupported AMQP protocol header ${[...bytes.subarray(4)].join('-')}`
  }
  return 'not an AMQP 0-9-1 protocol header'
}

export type FrameErrorCode = 'FRAME_TOO_LARGE' | 'BAD_FRAME_END' | 'UNKNOWN_FRAME_TYPE'

export interface FrameError {
  readonly code: FrameErrorCode
  readonly detail: string
  /** 501 frame-error (§1.2 constants): "the sender sent a malformed frame". */
  readonly replyCode: number
}

/** Frames completed by this push, and an error if the stream went bad after them. */
export type FrameReadResult =
  | { readonly kind: 'frames'; readonly frames: readonly AmqpFrame[] }
  | { readonly kind: 'error'; readonly frames: readonly AmqpFrame[]; readonly error: FrameError }

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(FRAME_TYPES))

export class FrameReader {
  private pending: Buffer = Buffer.alloc(0)
  private failed: FrameError | undefined

  constructor(private maxFrameSize: number = FRAME_MIN_SIZE) {}

  /** After Connection.Tune-Ok the negotiated frame-max applies. */
  setMaxFrameSize(maxFrameSize: number): void {
    this.maxFrameSize = maxFrameSize
  }

  push(chunk: Buffer): FrameReadResult {
    if (this.failed) return { kind: 'error', frames: [], error: this.failed }
    let buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk])
    const frames: AmqpFrame[] = []
    while (buf.length >= FRAME_HEADER_SIZE) {
      const type = buf.readUInt8(0)
      const size = buf.readUInt32BE(3)
      const headerError = this.checkHeader(type, size)
      if (headerError) return this.fail(frames, headerError)
      const total = FRAME_OVERHEAD + size
      if (buf.length < total) break
      if (buf[total - 1] !== FRAME_END) {
        // §4.2.3: an invalid frame-end octet is a fatal protocol error.
        return this.fail(frames, frameError('BAD_FRAME_END', `frame-end octet 0x${hex(buf[total - 1])}`))
      }
      // Copy so that the frame does not pin the (possibly large) chunk it came in.
      frames.push({ type: type as FrameType, channel: buf.readUInt16BE(1), payload: Buffer.from(buf.subarray(7, total - 1)) })
      buf = buf.subarray(total)
    }
    this.pending = Buffer.from(buf)
    return { kind: 'frames', frames }
  }

  /** Hands over the bytes of an incomplete frame, for a caller that stops reading frames here. */
  takePending(): Buffer {
    const pending = this.pending
    this.pending = Buffer.alloc(0)
    return pending
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.pending.length
  }

  private checkHeader(type: number, size: number): FrameError | undefined {
    if (!KNOWN_TYPES.has(type)) return frameError('UNKNOWN_FRAME_TYPE', `frame type ${type}`)
    if (size + FRAME_OVERHEAD > this.maxFrameSize) {
      return frameError('FRAME_TOO_LARGE', `frame of ${size + FRAME_OVERHEAD} octets exceeds ${this.maxFrameSize}`)
    }
    return undefined
  }

  private fail(frames: AmqpFrame[], error: FrameError): FrameReadResult {
    this.failed = error
    this.pending = Buffer.alloc(0)
    return { kind: 'error', frames, error }
  }
}

function frameError(code: FrameErrorCode, detail: string): FrameError {
  return { code, detail, replyCode: REPLY_CODES.FRAME_ERROR }
}

export function encodeFrame(type: FrameType, channel: number, payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_OVERHEAD + payload.length)
  frame.writeUInt8(type, 0)
  frame.writeUInt16BE(channel, 1)
  frame.writeUInt32BE(payload.length, 3)
  payload.copy(frame, FRAME_HEADER_SIZE)
  frame.writeUInt8(FRAME_END, FRAME_HEADER_SIZE + payload.length)
  return frame
}

/** Heartbeat frames are always on channel 0 with an empty payload (§4.2.7). */
export function encodeHeartbeat(): Buffer {
  return encodeFrame(FRAME_TYPES.HEARTBEAT, 0, Buffer.alloc(0))
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0')
}
