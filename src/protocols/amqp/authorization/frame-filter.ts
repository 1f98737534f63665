/**
 * One direction of an enforced AMQP session: reads the frames of the byte stream as they pass
 * and writes what may pass to the destination socket.
 *
 *  general frame (AMQP 0-9-1 §4.2.3)
 *  +------+---------+--------+-------------------------------+-----------+
 *  | type | channel | size   | payload                       | frame-end |
 *  | u8   | u16     | u32    | method: class u16, method u16 | 0xCE      |
 *  |      |         |        | header: class u16, weight u16,|           |
 *  |      |         |        |         body-size u64, …      |           |
 *  +------+---------+--------+-------------------------------+-----------+
 *
 * Per frame the direction (UpstreamFilter, DownstreamFilter) decides from its head — the 7
 * octets, plus class/method ids of a method frame on a channel, plus the body-size of a content
 * header it follows — whether the frame passes (streamed: its octets are written as they come),
 * is dropped (skipped), or must be held whole to read its arguments (only the methods that are
 * decided or that name a consumer; at most `holdCap` octets, else PROTOCOL_ERROR).
 *
 * Guarantees:
 * - a chunk whose frames all pass is written as one write of the chunk itself; otherwise the
 *   passing runs are written as slices of it; only a head or a held frame that straddles two
 *   chunks is copied (≤ 19 octets, or one frame ≤ holdCap);
 * - the gateway's own frames (`inject`) are written between two frames of the output, never
 *   inside one: queued while a passing frame is partly written, flushed when it ends;
 * - a bad frame-end octet or an unknown frame type ends the session PROTOCOL_ERROR; nothing is
 *   thrown out of push() (an unexpected error ends the session too: fail closed);
 * - push() answers false while the destination's buffer is full (the pump then waits for 'drain').
 */
import type { Socket } from 'node:net'
import { FRAME_END, FRAME_HEADER_SIZE, FRAME_OVERHEAD, FRAME_TYPES } from '../frame-codec'
import type { FilterEndCause } from '../../../proxy/stream-filter'
import { methodKey } from './method-ids'

/** What a direction answers for a frame. */
export const VERDICT = { PASS: 0, DROP: 1, HOLD: 2 } as const
export type Verdict = (typeof VERDICT)[keyof typeof VERDICT]

const PHASE = { HEAD: 0, STREAM: 1, SKIP: 2, HOLD: 3 } as const
type Phase = (typeof PHASE)[keyof typeof PHASE]

/** Frame header + class/method ids. */
const METHOD_HEAD = FRAME_HEADER_SIZE + 4
/** Frame header + content class, weight and body-size. */
const CONTENT_HEAD = FRAME_HEADER_SIZE + 12
const MAX_HEAD = CONTENT_HEAD

/** Session-wide: whether it has ended, and ending it. Shared by both directions. */
export interface SessionEnd {
  readonly ended: boolean
  end(cause: FilterEndCause, detail: string): void
}

export abstract class FrameFilter {
  /** The current frame's head fields, set before decide(). */
  protected type = 0
  protected channel = 0
  /** Payload octets. */
  protected size = 0
  /** methodKey(class, method) of a method frame on a channel ≠ 0, else 0. */
  protected key = 0
  /** Content header: body-size, when the direction asked for it (wantsBodySize). */
  protected bodySize = 0

  private phase: Phase = PHASE.HEAD
  private readonly head = Buffer.alloc(MAX_HEAD)
  private headLength = 0
  private headNeed = FRAME_HEADER_SIZE
  /** The current frame is a content header whose body-size the direction reads. */
  protected hasBodySize = false
  /** Octets of the current frame still to come, in STREAM, SKIP and HOLD. */
  private remaining = 0
  private hold: Buffer | undefined
  private holdLength = 0
  /** Output: a passing frame has been partly written. */
  private midFrame = false
  private readonly queued: Buffer[] = []
  private inPush = false
  /** Start, in the chunk being pushed, of the passing octets not yet written; -1 for none. */
  private runStart = -1
  private chunk: Buffer = EMPTY
  protected started = 0

  constructor(
    protected readonly dest: Socket,
    protected readonly session: SessionEnd,
    private readonly holdCap: number,
  ) {}

  push(chunk: Buffer): boolean {
    this.process(chunk, false)
    return !this.dest.writableNeedDrain
  }

  inject(packet: Buffer): void {
    if (this.session.ended) return
    if (this.inPush || this.midFrame) {
      this.queued.push(packet)
      return
    }
    this.writeOwn(packet)
  }

  /** True when the output is between two frames (what was queued has been written). */
  get atBoundary(): boolean {
    return !this.midFrame
  }

  /** Frames whose first octet was written: passed on, and the gateway's own. */
  get framesStarted(): number {
    return this.started
  }

  untilBoundary(chunk: Buffer): number {
    if (!this.midFrame) return 0
    return this.process(chunk, true)
  }

  /** Which head the direction needs for a frame it has the 7-octet header of. */
  protected abstract wantsBodySize(channel: number): boolean
  /** Decides a frame from its head fields. */
  protected abstract decide(): Verdict
  /** Decides a held frame: `frame[at, at + size + 8)` is the whole frame. */
  protected abstract decideWhole(frame: Buffer, at: number): Verdict
  /** After a frame's last octet was written (passed) or skipped. */
  protected abstract frameEnded(passed: boolean): void
  /** After one of the gateway's own frames was written. */
  protected injected(): void {}

  private process(chunk: Buffer, stopAtBoundary: boolean): number {
    if (this.session.ended) return chunk.length
    this.inPush = true
    this.chunk = chunk
    this.runStart = -1
    let i = 0
    try {
      i = this.frames(chunk, stopAtBoundary)
      if (!this.session.ended) {
        this.flushRun(i)
        if (!this.midFrame) this.flushQueued()
      }
    } catch (err) {
      this.fail(`filter error: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      this.inPush = false
      this.runStart = -1
      this.chunk = EMPTY
    }
    return i
  }

  /** The frame loop; answers the offset it stopped at. */
  private frames(chunk: Buffer, stopAtBoundary: boolean): number {
    const length = chunk.length
    let i = 0
    while (i < length) {
      // Between two frames (untilBoundary never is: it stops at the first boundary).
      if (this.phase === PHASE.HEAD && this.headLength === 0 && !stopAtBoundary) {
        i = this.inPlace(chunk, i)
        if (this.session.ended) return length
        if (i === length) return i
      }
      switch (this.phase) {
        case PHASE.HEAD:
          i = this.readHead(chunk, i)
          break
        case PHASE.STREAM: {
          const n = Math.min(this.remaining, length - i)
          if (this.runStart < 0) this.runStart = i
          i += n
          this.remaining -= n
          if (this.remaining === 0) {
            if (!this.endOctet(chunk[i - 1])) return i
            this.midFrame = false
            this.endFrame(i, true)
            if (stopAtBoundary) return i
          }
          break
        }
        case PHASE.SKIP: {
          const n = Math.min(this.remaining, length - i)
          i += n
          this.remaining -= n
          if (this.remaining === 0) {
            if (!this.endOctet(chunk[i - 1])) return i
            this.endFrame(i, false)
          }
          break
        }
        case PHASE.HOLD:
          i = this.fillHold(chunk, i)
          break
      }
      if (this.session.ended) return length
    }
    return i
  }

  /**
   * The hot path: every frame that lies whole in the chunk from `i` is read, decided and passed
   * (joined to the run of passing octets) or skipped in one step, with integer reads only — no
   * phase change, no copy, nothing allocated. A 64-octet AMQP message is three frames (method,
   * header, body), so the per-frame cost is what an enforced session pays over a plain one.
   * Answers the offset of the first frame that is not whole in the chunk (readHead and the
   * phases take it), or the chunk's length. The checks, and their order, are those of
   * parseHeader, begin and wholeInPlace.
   */
  private inPlace(chunk: Buffer, i: number): number {
    const length = chunk.length
    while (length - i >= FRAME_HEADER_SIZE) {
      const size = (chunk[i + 3] as number) * 0x100_0000 + (((chunk[i + 4] as number) << 16) | ((chunk[i + 5] as number) << 8) | (chunk[i + 6] as number))
      const total = size + FRAME_OVERHEAD
      if (total > length - i) return i
      const type = chunk[i] as number
      const channel = ((chunk[i + 1] as number) << 8) | (chunk[i + 2] as number)
      this.type = type
      this.channel = channel
      this.size = size
      this.key = 0
      this.hasBodySize = false
      if (type === FRAME_TYPES.METHOD) {
        if (channel !== 0) {
          if (size < 4) return this.failed(`method frame of ${size} octets on channel ${channel}`)
          this.key = methodKey(((chunk[i + 7] as number) << 8) | (chunk[i + 8] as number), ((chunk[i + 9] as number) << 8) | (chunk[i + 10] as number))
        }
      } else if (type === FRAME_TYPES.HEADER) {
        if (this.wantsBodySize(channel)) {
          if (size < 12) return this.failed(`content header of ${size} octets on channel ${channel}`)
          this.hasBodySize = true
          this.bodySize = chunk.readUInt32BE(i + 11) * 0x1_0000_0000 + chunk.readUInt32BE(i + 15)
        }
      } else if (type !== FRAME_TYPES.BODY && type !== FRAME_TYPES.HEARTBEAT) {
        return this.failed(`frame type ${type}`)
      }
      const verdict = this.decide()
      if (this.session.ended) return length
      const end = i + total
      if (verdict === VERDICT.HOLD) {
        if (total > this.holdCap) return this.failed(`method ${this.key >>> 16}.${this.key & 0xffff} frame of ${total} octets exceeds ${this.holdCap}`)
        i = this.wholeInPlace(chunk, i, total)
      } else {
        if (verdict === VERDICT.PASS) {
          this.started++
          if (this.runStart < 0) this.runStart = i
        } else {
          this.flushRun(i)
        }
        if (chunk[end - 1] !== FRAME_END) return this.endOctet(chunk[end - 1]) ? end : length
        this.endFrame(end, verdict === VERDICT.PASS)
        i = end
      }
      if (this.session.ended) return length
    }
    return i
  }

  /** At a frame's first octets: reads its head in place when the chunk has it, else gathers it. */
  private readHead(chunk: Buffer, i: number): number {
    const available = chunk.length - i
    if (this.headLength === 0 && available >= FRAME_HEADER_SIZE) {
      const need = this.parseHeader(chunk, i)
      if (need < 0) return chunk.length
      if (available >= need) {
        this.parseRest(chunk, i)
        return this.begin(chunk, i, 0)
      }
    }
    // The head straddles chunks: gather it (≤ MAX_HEAD octets). What passed before it is written.
    if (this.headLength === 0) this.flushRun(i)
    let at = i
    while (at < chunk.length && this.headLength < this.headNeed) {
      const n = Math.min(this.headNeed - this.headLength, chunk.length - at)
      chunk.copy(this.head, this.headLength, at, at + n)
      this.headLength += n
      at += n
      if (this.headLength === FRAME_HEADER_SIZE && this.headNeed === FRAME_HEADER_SIZE) {
        const need = this.parseHeader(this.head, 0)
        if (need < 0) return chunk.length
        this.headNeed = need
      }
    }
    if (this.headLength < this.headNeed) return at
    this.parseRest(this.head, 0)
    const gathered = this.headLength
    this.headLength = 0
    this.headNeed = FRAME_HEADER_SIZE
    return this.begin(chunk, at, gathered)
  }

  /** Reads type, channel, size; answers the head length the frame needs, or -1 (session ended). */
  private parseHeader(src: Buffer, at: number): number {
    const type = src[at] as number
    this.type = type
    this.channel = src.readUInt16BE(at + 1)
    this.size = src.readUInt32BE(at + 3)
    this.key = 0
    this.hasBodySize = false
    switch (type) {
      case FRAME_TYPES.METHOD:
        if (this.channel === 0) return FRAME_HEADER_SIZE
        if (this.size < 4) return this.fail(`method frame of ${this.size} octets on channel ${this.channel}`)
        return METHOD_HEAD
      case FRAME_TYPES.HEADER:
        if (!this.wantsBodySize(this.channel)) return FRAME_HEADER_SIZE
        if (this.size < 12) return this.fail(`content header of ${this.size} octets on channel ${this.channel}`)
        this.hasBodySize = true
        return CONTENT_HEAD
      case FRAME_TYPES.BODY:
      case FRAME_TYPES.HEARTBEAT:
        return FRAME_HEADER_SIZE
      default:
        // §4.2.3: a frame of an unknown type is a fatal error (frame-error, 501).
        return this.fail(`frame type ${type}`)
    }
  }

  private parseRest(src: Buffer, at: number): void {
    if (this.type === FRAME_TYPES.METHOD && this.channel !== 0) {
      this.key = methodKey(src.readUInt16BE(at + 7), src.readUInt16BE(at + 9))
    } else if (this.hasBodySize) {
      // u64; past 2^53 octets the count loses precision, far beyond any broker's message cap.
      this.bodySize = src.readUInt32BE(at + 11) * 0x1_0000_0000 + src.readUInt32BE(at + 15)
    }
  }

  /**
   * Acts on the verdict for the frame whose head was just read. `gathered` is 0 when the head is
   * in place at chunk[i], else the octets of it held in `head` (the chunk's part ends before i).
   */
  private begin(chunk: Buffer, i: number, gathered: number): number {
    const total = this.size + FRAME_OVERHEAD
    const verdict = this.decide()
    if (this.session.ended) return chunk.length
    switch (verdict) {
      case VERDICT.PASS:
        this.started++
        this.midFrame = true
        this.phase = PHASE.STREAM
        this.remaining = total - gathered
        if (gathered > 0) this.write(Buffer.from(this.head.subarray(0, gathered)))
        return i
      case VERDICT.DROP:
        this.flushRun(i)
        this.phase = PHASE.SKIP
        this.remaining = total - gathered
        return i
      case VERDICT.HOLD:
        if (total > this.holdCap) {
          this.fail(`method ${this.key >>> 16}.${this.key & 0xffff} frame of ${total} octets exceeds ${this.holdCap}`)
          return chunk.length
        }
        if (gathered === 0 && chunk.length - i >= total) return this.wholeInPlace(chunk, i, total)
        this.flushRun(i)
        this.hold = Buffer.allocUnsafe(total)
        this.head.copy(this.hold, 0, 0, gathered)
        this.holdLength = gathered
        this.remaining = total - gathered
        this.phase = PHASE.HOLD
        return i
    }
  }

  /** A held frame that is whole in the chunk: decided without a copy. */
  private wholeInPlace(chunk: Buffer, i: number, total: number): number {
    const end = i + total
    if (!this.endOctet(chunk[end - 1])) return chunk.length
    const verdict = this.decideWhole(chunk, i)
    if (this.session.ended) return chunk.length
    if (verdict === VERDICT.PASS) {
      this.started++
      if (this.runStart < 0) this.runStart = i
    } else {
      this.flushRun(i)
    }
    this.endFrame(end, verdict === VERDICT.PASS)
    return end
  }

  private fillHold(chunk: Buffer, i: number): number {
    const hold = this.hold as Buffer
    const n = Math.min(this.remaining, chunk.length - i)
    chunk.copy(hold, this.holdLength, i, i + n)
    this.holdLength += n
    this.remaining -= n
    const end = i + n
    if (this.remaining > 0) return end
    this.hold = undefined
    this.phase = PHASE.HEAD
    if (!this.endOctet(hold[hold.length - 1])) return chunk.length
    const verdict = this.decideWhole(hold, 0)
    if (this.session.ended) return chunk.length
    const passed = verdict === VERDICT.PASS
    if (passed) {
      // The frame began in an earlier chunk, so no run of this chunk precedes it.
      this.started++
      this.write(hold)
    }
    this.endFrame(end, passed)
    return end
  }

  /** §4.2.3: an invalid frame-end octet is a fatal protocol error. */
  private endOctet(octet: number | undefined): boolean {
    if (octet === FRAME_END) return true
    this.fail(`frame-end octet 0x${(octet ?? 0).toString(16).padStart(2, '0')}`)
    return false
  }

  private endFrame(i: number, passed: boolean): void {
    this.phase = PHASE.HEAD
    this.frameEnded(passed)
    if (this.queued.length > 0) {
      this.flushRun(i)
      this.flushQueued()
    }
  }

  /** Writes chunk[runStart, i) — the chunk itself when that is all of it. */
  private flushRun(i: number): void {
    const start = this.runStart
    if (start < 0) return
    this.runStart = -1
    if (i <= start) return
    const chunk = this.chunk
    this.write(start === 0 && i === chunk.length ? chunk : chunk.subarray(start, i))
  }

  private flushQueued(): void {
    while (this.queued.length > 0 && !this.session.ended) this.writeOwn(this.queued.shift() as Buffer)
  }

  private writeOwn(packet: Buffer): void {
    this.started++
    this.write(packet)
    this.injected()
  }

  private write(bytes: Buffer): void {
    if (this.dest.destroyed || this.dest.writableEnded) return
    this.dest.write(bytes)
  }

  protected fail(detail: string): -1 {
    this.session.end('PROTOCOL_ERROR', detail)
    return -1
  }

  /** fail() inside the frame loop: answers the end of the chunk, where the loop stops. */
  private failed(detail: string): number {
    this.fail(detail)
    return this.chunk.length
  }
}

const EMPTY = Buffer.alloc(0)
