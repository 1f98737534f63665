/**
 * The few arguments the filters need from the methods they read, decoded in place from a frame
 * held whole (no copy of the frame). Layouts (AMQP 0-9-1 XML; `short` = reserved-1, ticket in 0-8):
 *
 *   Basic.Publish    short, shortstr exchange, shortstr routing-key, bits
 *   Basic.Consume    short, shortstr queue, shortstr consumer-tag, bits (no-local, no-ack,
 *                    exclusive, no-wait), table arguments
 *   Basic.Get        short, shortstr queue, bit no-ack
 *   Queue.Declare    short, shortstr queue, …      Queue.Purge / Queue.Delete   short, shortstr queue, …
 *   Queue.Bind       short, shortstr queue, shortstr exchange, shortstr routing-key, …  (Unbind alike)
 *   Exchange.Declare short, shortstr exchange, …   Exchange.Delete              short, shortstr exchange, …
 *   Exchange.Bind    short, shortstr destination, shortstr source, …             (Unbind alike)
 *   Basic.Cancel     shortstr consumer-tag, bit no-wait          Basic.Consume-Ok   shortstr consumer-tag
 *
 * Only the leading arguments that name a resource are read: the broker parses the rest, and both
 * read the names from the same octets. A shortstr is at most 255 octets by its length octet, so
 * nothing here grows with what a client sends. A name that is not UTF-8 is malformed (as
 * WireReader.shortstr refuses it): decoding it with replacement characters could make two
 * different names one policy resource.
 */
import { METHODS } from './method-ids'

const UTF8 = new TextDecoder('utf-8', { fatal: true })

/** Offset of the arguments in a method frame: frame header (7) + class-id and method-id (4). */
export const ARGS_OFFSET = 11

/**
 * Remembers the last few names decoded and their octets, so that a stream of publishes to the
 * same exchange decodes its name once, not once per message (the decision itself is still made
 * every time: the authorizer must not be cached). The slot that matched last is compared first,
 * octet by octet in place: a publisher's next name is nearly always its last one.
 */
class NameCache {
  private readonly bytes: Buffer[] = []
  private readonly names: string[] = []
  private next = 0
  private last = 0

  constructor(private readonly slots: number) {}

  /** The name in `buf[start, end)`, or undefined when it is not UTF-8. */
  decode(buf: Buffer, start: number, end: number): string | undefined {
    const count = this.bytes.length
    if (count > 0 && sameOctets(this.bytes[this.last] as Buffer, buf, start, end)) return this.names[this.last]
    for (let i = 0; i < count; i++) {
      if (i !== this.last && sameOctets(this.bytes[i] as Buffer, buf, start, end)) {
        this.last = i
        return this.names[i]
      }
    }
    let name: string
    try {
      name = UTF8.decode(buf.subarray(start, end))
    } catch {
      return undefined
    }
    this.bytes[this.next] = Buffer.from(buf.subarray(start, end))
    this.names[this.next] = name
    this.last = this.next
    this.next = (this.next + 1) % this.slots
    return name
  }
}

/** Whether `buf[start, end)` holds the octets of `cached` (a shortstr: at most 255 of them). */
function sameOctets(cached: Buffer, buf: Buffer, start: number, end: number): boolean {
  const length = cached.length
  if (length !== end - start) return false
  for (let i = 0; i < length; i++) if (cached[i] !== buf[start + i]) return false
  return true
}

/**
 * One reusable result per filter: `read` fills the fields of the method it was given and answers
 * false when the arguments are truncated or a name is not UTF-8.
 */
export class MethodArgs {
  /** The queue or exchange the method names first (destination of Exchange.Bind). */
  first = ''
  /** Queue.Bind/Unbind: the exchange; Exchange.Bind/Unbind: the source. */
  second = ''
  /** Basic.Consume, Basic.Cancel, Basic.Consume-Ok: the consumer tag ('' = let the broker choose). */
  tag = ''
  /** Basic.Consume: no-wait (no Consume-Ok will come). */
  noWait = false

  private readonly cache = new NameCache(4)

  /** `frame` holds the whole frame from offset `at`; `end` is the offset of its frame-end octet. */
  read(key: number, frame: Buffer, at: number, end: number): boolean {
    let pos = at + ARGS_OFFSET
    switch (key) {
      case METHODS.BASIC_CANCEL:
      case METHODS.BASIC_CONSUME_OK:
        return this.shortstr(frame, pos, end, 'tag') >= 0
      case METHODS.BASIC_CONSUME: {
        pos = this.shortstr(frame, pos + 2, end, 'first')
        if (pos < 0) return false
        pos = this.shortstr(frame, pos, end, 'tag')
        if (pos < 0 || pos >= end) return false
        // bits: no-local (0), no-ack (1), exclusive (2), no-wait (3), packed LSB first (§4.2.5.2).
        this.noWait = ((frame[pos] as number) & 0x08) !== 0
        return true
      }
      case METHODS.QUEUE_BIND:
      case METHODS.QUEUE_UNBIND:
      case METHODS.EXCHANGE_BIND:
      case METHODS.EXCHANGE_UNBIND:
        pos = this.shortstr(frame, pos + 2, end, 'first')
        return pos >= 0 && this.shortstr(frame, pos, end, 'second') >= 0
      default:
        return this.shortstr(frame, pos + 2, end, 'first') >= 0
    }
  }

  /** Decodes the shortstr at `pos` into `field`; answers the offset after it, or -1. */
  private shortstr(frame: Buffer, pos: number, end: number, field: 'first' | 'second' | 'tag'): number {
    if (pos >= end) return -1
    const start = pos + 1
    const stop = start + (frame[pos] as number)
    if (stop > end) return -1
    const name = this.cache.decode(frame, start, stop)
    if (name === undefined) return -1
    this[field] = name
    return stop
  }
}
