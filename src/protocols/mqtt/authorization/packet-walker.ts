import type { Socket } from 'node:net'
import type { FilterEndCause, StreamFilter } from '../../../proxy/stream-filter'
import type { MqttFilterSession } from './session'
import { PACKET_NAMES } from './wire'

/** What `inspect` answers for the packet it was shown. */
export const VERDICT = {
  /** Needs more of the packet first: `need` says how many octets from its start. */
  MORE: 0,
  /** The packet goes on as it is. */
  PASS: 1,
  /** The packet is dropped: nothing of it reaches the destination. */
  DROP: 2,
  /** `replacement` goes out instead of the inspected prefix; the rest of the packet follows it. */
  REWRITE: 3,
  /** The session ends (`failCause`, `failDetail`) after what preceded the packet has gone out. */
  FAIL: 4,
} as const

/** Where the walk stands in the source stream. */
const AT_HEADER = 0 // between two packets
const HOLDING = 1 // a packet whose header or inspected prefix is split across chunks: held back
const PASSING = 2 // inside a packet that goes on: `left` octets of it to pass
const SKIPPING = 3 // inside a dropped packet: `left` octets of it to skip

const EMPTY = Buffer.alloc(0)

/**
 * One direction of an MQTT session, walked packet by packet as chunks arrive (MQTT 5 §2.1, the
 * same framing in 3.1 and 3.1.1): each packet's fixed header is read, the direction's `inspect`
 * decides it from as few octets as it asks for, and the walk passes, drops or rewrites it.
 *
 *   source chunk   | pkt A (pass) | pkt B (pass) | pkt C (drop) | pkt D (pass) | pkt E ...|
 *   destination    |<- one write of chunk[0,C) ->|              |<- one write from D ... ->|
 *
 * Guarantees, for the hot path and for memory:
 * - Passing packets are never copied: a run of them is one write of a slice of the chunk, the
 *   chunk itself when nothing in it is dropped or rewritten. A PUBLISH costs one header walk and
 *   one decision; nothing is allocated for it but its topic string, and no closure is made.
 * - Held back is only what a decision needs and only when it is split across chunks: the fixed
 *   header, and what `inspect` asks for (a PUBLISH up to its payload, a whole SUBSCRIBE). What it
 *   asks for is checked against the packet's own length and against `maxInspectBytes` before
 *   anything is held, so a packet split anywhere is decided exactly as if it had arrived whole.
 *   Payloads stream through (passed or skipped) however large.
 * - The gateway's own packets (`inject`) go out between two packets of this stream: at once
 *   when it is between packets, else as soon as the packet being passed is complete.
 * - A verdict that ends the session, or an error of the walker's own, ends it through the
 *   session — nothing is thrown out of `push()` — and the walk reads nothing after it.
 *
 * Backpressure: `push()` answers false exactly when the destination has asked for 'drain' — the
 * result of the last write, or of the write before when this chunk wrote nothing.
 */
export abstract class PacketWalker implements StreamFilter {
  /** Packets whose first octet went to the destination: passed, rewritten or injected. */
  framesStarted = 0

  /** First octet of the current packet. */
  protected byte0 = 0
  /** Octets of its fixed header; 0 while the header is incomplete. */
  protected headerLength = 0
  /** Its Remaining Length (MQTT 5 §2.1.4). */
  protected remaining = 0
  /** Octets from the packet start that `inspect` needs (MORE), or that a verdict covers (the inspected prefix). */
  protected need = 0
  /** For REWRITE: what goes out instead of the prefix. */
  protected replacement: Buffer = EMPTY
  protected failCause: FilterEndCause = 'PROTOCOL_ERROR'
  protected failDetail = ''

  private state = AT_HEADER
  /** Octets of the current packet still to pass or skip. */
  private left = 0
  private hold: Buffer = EMPTY
  private held = 0
  private pushing = false
  private wrote = false
  private ok = true
  private readonly queue: Buffer[] = []
  private queued = 0

  constructor(
    protected readonly session: MqttFilterSession,
    private readonly out: Socket,
  ) {}

  /**
   * For the packet whose fixed header was just read: `headerLength` to pass it uninspected, else
   * the octets `inspect` needs first; or -1 (`failDetail` set) when the header alone is malformed.
   */
  protected abstract firstNeed(): number

  /** Decides the current packet from `avail` (≥ `need`) of its octets at `buf[off]`; answers a VERDICT. */
  protected abstract inspect(buf: Buffer, off: number, avail: number): number

  /** True when the destination stream is between two packets (what was injected included). */
  get atBoundary(): boolean {
    return this.state !== PASSING
  }

  push(chunk: Buffer): boolean {
    if (this.session.ended) return true
    this.pushing = true
    this.wrote = false
    this.ok = true
    try {
      this.walk(chunk)
    } catch (err) {
      // A bug of the walker's own must not take the process down, nor let bytes through undecided.
      this.session.end('PROTOCOL_ERROR', `MQTT filter error: ${err instanceof Error ? err.message : String(err)}`)
    } finally {
      this.pushing = false
    }
    if (this.queued > 0 && this.state !== PASSING && !this.session.ended) this.flushQueue()
    return this.wrote ? this.ok : !this.out.writableNeedDrain
  }

  inject(packet: Buffer): void {
    if (this.session.ended) return
    if (this.pushing || this.state === PASSING || this.queued > 0) {
      this.queue.push(packet)
      this.queued += packet.length
    } else {
      this.out.write(packet)
      this.framesStarted++
    }
    if (this.out.writableLength + this.queued > this.session.maxInjectedBacklogBytes) {
      this.session.end('SLOW_CONSUMER', `${this.out.writableLength + this.queued} octets of the gateway's own answers unread`)
    }
  }

  /** Passes `chunk` only up to the end of the packet being passed; answers the octets consumed (0 between packets). */
  untilBoundary(chunk: Buffer): number {
    if (this.state !== PASSING) return 0
    const n = Math.min(this.left, chunk.length)
    this.out.write(n === chunk.length ? chunk : chunk.subarray(0, n))
    this.left -= n
    if (this.left === 0) {
      this.state = AT_HEADER
      if (this.queued > 0) this.flushQueue()
    }
    return n
  }

  private walk(chunk: Buffer): void {
    const len = chunk.length
    let pos = 0
    /** chunk[run, pos) passes and is not written yet. */
    let run = 0
    while (pos < len) {
      const state = this.state
      if (state === PASSING) {
        const n = Math.min(this.left, len - pos)
        pos += n
        this.left -= n
        if (this.left === 0) {
          this.state = AT_HEADER
          if (this.queued > 0) {
            this.flush(chunk, run, pos)
            run = pos
            this.flushQueue()
          }
        }
        continue
      }
      if (state === SKIPPING) {
        const n = Math.min(this.left, len - pos)
        pos += n
        run = pos
        this.left -= n
        if (this.left === 0) this.state = AT_HEADER
        continue
      }
      if (state === HOLDING) {
        pos = this.resume(chunk, pos)
        run = pos
        if (this.session.ended) return
        continue
      }

      // AT_HEADER, the hot path: the packet starts in this chunk and is read in place.
      const start = pos
      const headerLength = this.fixedHeader(chunk, start, len - start)
      if (headerLength <= 0) {
        this.flush(chunk, run, start)
        if (headerLength < 0) return this.session.end('PROTOCOL_ERROR', this.failDetail)
        this.headerLength = 0
        return this.startHold(chunk, start)
      }
      const total = headerLength + this.remaining
      const avail = Math.min(total, len - start)
      let need = this.firstNeed()
      let verdict: number = VERDICT.PASS
      if (need !== headerLength) {
        for (;;) {
          if (!this.checkNeed(need, 0, total)) {
            verdict = VERDICT.FAIL
            break
          }
          if (need > avail) {
            this.need = need
            this.flush(chunk, run, start)
            return this.startHold(chunk, start)
          }
          verdict = this.inspect(chunk, start, avail)
          if (verdict !== VERDICT.MORE) break
          need = this.need
          if (need <= avail) return this.internalError(chunk, run, start)
        }
        // Decided from octets at hand in one go: the prefix it took is capped as if it had been held.
        if (verdict !== VERDICT.FAIL && this.need > this.session.maxInspectBytes) verdict = this.overCap()
        if (this.session.ended) return // an injection into the other direction ended the session
      }
      if (verdict === VERDICT.PASS) {
        this.framesStarted++
        if (total <= len - start) {
          pos = start + total
        } else {
          pos = len
          this.left = total - (len - start)
          this.state = PASSING
        }
        continue
      }
      this.flush(chunk, run, start)
      if (verdict === VERDICT.FAIL) return this.session.end(this.failCause, this.failDetail)
      pos = start + this.need
      run = pos
      this.settle(verdict, total - this.need)
    }
    this.flush(chunk, run, len)
  }

  /** Continues a held packet with `chunk[pos…]`; answers where the packet's octets in the chunk end. */
  private resume(chunk: Buffer, pos: number): number {
    const len = chunk.length
    if (this.headerLength === 0) {
      // The fixed header, one octet at a time: it is at most five, and nothing past it may be taken.
      let headerLength = 0
      while (headerLength === 0 && pos < len) {
        this.append(chunk, pos, pos + 1)
        pos += 1
        headerLength = this.fixedHeader(this.hold, 0, this.held)
      }
      if (headerLength < 0) {
        this.session.end('PROTOCOL_ERROR', this.failDetail)
        return len
      }
      if (headerLength === 0) return pos
      const need = this.firstNeed()
      if (need === headerLength) {
        this.write(this.take())
        this.framesStarted++
        this.settle(VERDICT.PASS, this.remaining)
        return pos
      }
      if (!this.checkNeed(need, this.held, headerLength + this.remaining)) {
        this.session.end(this.failCause, this.failDetail)
        return len
      }
      this.need = need
    }
    const total = this.headerLength + this.remaining
    for (;;) {
      const n = Math.min(this.need - this.held, len - pos)
      this.append(chunk, pos, pos + n)
      pos += n
      if (this.held < this.need) return pos
      const verdict = this.inspect(this.hold, 0, this.held)
      if (this.session.ended) return len
      if (verdict === VERDICT.MORE) {
        if (!this.checkNeed(this.need, this.held, total)) {
          this.session.end(this.failCause, this.failDetail)
          return len
        }
        continue
      }
      if (verdict === VERDICT.FAIL) {
        this.session.end(this.failCause, this.failDetail)
        return len
      }
      const held = this.held
      const prefix = this.need
      const hold = this.take()
      if (verdict === VERDICT.PASS) {
        this.write(hold)
        this.framesStarted++
      } else if (verdict === VERDICT.REWRITE) {
        this.writeReplacement()
        // Held octets past the prefix the verdict covers are the rest of the packet's (none today: a
        // verdict covers what `inspect` asked for, and exactly that much is held).
        if (held > prefix) this.write(hold.subarray(prefix, held))
      }
      this.left = total - held
      this.state = this.left === 0 ? AT_HEADER : verdict === VERDICT.DROP ? SKIPPING : PASSING
      return pos
    }
  }

  /** After a verdict on a packet read in place, or an uninspected held one: what comes of the `left` octets after the prefix. */
  private settle(verdict: number, left: number): void {
    this.left = left
    if (verdict === VERDICT.REWRITE) this.writeReplacement()
    this.state = left === 0 ? AT_HEADER : verdict === VERDICT.DROP ? SKIPPING : PASSING
  }

  private writeReplacement(): void {
    this.write(this.replacement)
    this.replacement = EMPTY
    this.framesStarted++
  }

  /**
   * The fixed header at `buf[off]`, `avail` octets at hand: its length (and `byte0`, `remaining`),
   * 0 when incomplete, -1 when the Remaining Length runs past four octets [MQTT-1.5.5-1].
   */
  private fixedHeader(buf: Buffer, off: number, avail: number): number {
    let value = 0
    let multiplier = 1
    for (let i = 1; i <= 4; i += 1) {
      if (i >= avail) return 0
      const byte = buf[off + i] as number
      value += (byte & 0x7f) * multiplier
      if ((byte & 0x80) === 0) {
        this.byte0 = buf[off] as number
        this.remaining = value
        this.headerLength = i + 1
        return i + 1
      }
      multiplier *= 128
    }
    this.failDetail = 'Remaining Length longer than four octets [MQTT-1.5.5-1]'
    return -1
  }

  /** False (and `fail…` set) when `need` cannot be met: malformed header, a field past the packet, over the cap. */
  private checkNeed(need: number, avail: number, total: number): boolean {
    if (need < 0) {
      this.failCause = 'PROTOCOL_ERROR'
      return false
    }
    if (need <= avail) return this.fail('MQTT filter asked for octets it has')
    if (need > total) return this.fail(`${PACKET_NAMES[this.byte0 >> 4] as string} shorter than its fields (Remaining Length ${this.remaining})`)
    if (need > this.session.maxInspectBytes) {
      this.overCap()
      return false
    }
    return true
  }

  private overCap(): number {
    this.failCause = 'PROTOCOL_ERROR'
    this.failDetail = `${PACKET_NAMES[this.byte0 >> 4] as string} to inspect is over limits.maxInspectedPacketBytes (${this.session.maxInspectBytes})`
    return VERDICT.FAIL
  }

  private fail(detail: string): boolean {
    this.failCause = 'PROTOCOL_ERROR'
    this.failDetail = detail
    return false
  }

  /** For `inspect`: asks for the first `need` octets of the packet. */
  protected more(need: number): number {
    this.need = need
    return VERDICT.MORE
  }

  /** For `inspect`: the session ends. */
  protected refuse(cause: FilterEndCause, detail: string): number {
    this.failCause = cause
    this.failDetail = detail
    return VERDICT.FAIL
  }

  private internalError(chunk: Buffer, run: number, start: number): void {
    this.flush(chunk, run, start)
    this.session.end('PROTOCOL_ERROR', 'MQTT filter asked for octets it has')
  }

  /**
   * Holds chunk[start…]: all of it is the current packet's, and less than its fixed header
   * (`headerLength` 0) or than the `need` of its inspection.
   */
  private startHold(chunk: Buffer, start: number): void {
    const n = chunk.length - start
    this.state = HOLDING
    this.held = 0
    this.hold = Buffer.allocUnsafe(Math.max(this.headerLength === 0 ? 8 : this.need, n))
    this.append(chunk, start, chunk.length)
  }

  private append(chunk: Buffer, from: number, to: number): void {
    const n = to - from
    if (this.held + n > this.hold.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.need, this.held + n))
      this.hold.copy(grown, 0, 0, this.held)
      this.hold = grown
    }
    chunk.copy(this.hold, this.held, from, to)
    this.held += n
  }

  /** The held octets, handed over (the next hold gets a buffer of its own: a write may still hold this one). */
  private take(): Buffer {
    const out = this.hold.subarray(0, this.held)
    this.hold = EMPTY
    this.held = 0
    this.state = AT_HEADER
    return out
  }

  private flush(chunk: Buffer, from: number, to: number): void {
    if (to > from) this.write(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to))
  }

  private write(bytes: Buffer): void {
    this.wrote = true
    if (!this.out.write(bytes)) this.ok = false
  }

  private flushQueue(): void {
    for (const packet of this.queue) {
      this.write(packet)
      this.framesStarted++
    }
    this.queue.length = 0
    this.queued = 0
  }
}
