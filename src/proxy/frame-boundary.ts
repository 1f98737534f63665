/**
 * Where the broker → client byte stream stands relative to protocol frames, so that a kick can
 * write its goodbye (MQTT 5 DISCONNECT, AMQP Connection.Close) between two frames instead of into
 * the middle of one. It reads only frame headers — a few integer reads per frame, no copies of
 * payload — and is attached only to sessions whose protocol has a goodbye to send.
 */
export interface FrameBoundary {
  /** True between two frames. */
  readonly atBoundary: boolean
  /** Frames whose first byte has been seen: 0 means the peer has not begun its first frame. */
  readonly framesStarted: number
  feed(chunk: Buffer): void
  /** Consumes `chunk` up to the next boundary; answers how many bytes that took. */
  untilBoundary(chunk: Buffer): number
}

/** A boundary tracker for framings of header + length-given body; protocols supply `headerByte`. */
export abstract class HeaderSkipper implements FrameBoundary {
  /** Bytes of the current frame's body still to come. */
  protected skip = 0
  protected headerLength = 0
  framesStarted = 0

  get atBoundary(): boolean {
    return this.skip === 0 && this.headerLength === 0
  }

  feed(chunk: Buffer): void {
    let i = 0
    while (i < chunk.length) i += this.step(chunk, i)
  }

  untilBoundary(chunk: Buffer): number {
    let i = 0
    do i += this.step(chunk, i)
    while (i < chunk.length && !this.atBoundary)
    return i
  }

  private step(chunk: Buffer, offset: number): number {
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length - offset)
      this.skip -= n
      return n
    }
    if (this.headerLength === 0) this.framesStarted++
    return this.headerByte(chunk[offset] as number)
  }

  /** Takes one header byte; returns 1. Sets `skip` when the header is complete. */
  protected abstract headerByte(byte: number): number
}
