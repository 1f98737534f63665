/**
 * Client content (a Basic.Publish's header and body frames, AMQP 0-9-1 §4.2.6) still to reach
 * the broker, per channel. A revocation that closes a channel must not put the gateway's
 * Channel.Close between a publish and its content: the broker would answer that with a
 * connection-level UNEXPECTED_FRAME and drop every channel. Only channels with consumers can be
 * revoked, so only their publishes are followed; everything else costs nothing here.
 *
 *  content header payload          content body payload
 *  +-------+--------+-----------+  +-------------------------+
 *  | class | weight | body-size |  | `size` octets of body   |
 *  | u16   | u16    | u64       |  +-------------------------+
 *  +-------+--------+-----------+  the bodies of one message add up to body-size
 */

/** After a followed Basic.Publish, before its content header. */
const AWAITING_HEADER = -1

export class ContentInFlight {
  /** Body octets still to come, or AWAITING_HEADER. */
  private readonly remaining = new Map<number, number>()

  /** A Basic.Publish on a followed channel passed: its content comes next. */
  expect(channel: number): void {
    this.remaining.set(channel, AWAITING_HEADER)
  }

  /** Asked of every client frame: a session without consumers never has an entry. */
  has(channel: number): boolean {
    return this.remaining.size !== 0 && this.remaining.has(channel)
  }

  /** A content header passed; answers true when the content is complete (an empty body). */
  header(channel: number, bodySize: number): boolean {
    if (bodySize <= 0) {
      this.remaining.delete(channel)
      return true
    }
    this.remaining.set(channel, bodySize)
    return false
  }

  /** A content body frame passed; answers true when it completed the content. */
  body(channel: number, size: number): boolean {
    const left = this.remaining.get(channel)
    if (left === undefined) return false
    if (left === AWAITING_HEADER || left <= size) {
      // A body before its header is a client's protocol error; the broker closes it for that.
      this.remaining.delete(channel)
      return true
    }
    this.remaining.set(channel, left - size)
    return false
  }

  clear(channel: number): void {
    this.remaining.delete(channel)
  }
}
