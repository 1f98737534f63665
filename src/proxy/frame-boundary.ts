/**
 * Where the broker → client byte stream stands relative to protocol frames, so that a kick can
 * write its goodbye (MQTT 5 DISCONNECT, AMQP Connection.Close) between two frames instead of into
 * the middle of one. It reads only frame headers — a few integer reads per frame, no copies of
 * payload — and is attached only to sessions whose protocol has a goodbye to send.
 */
export interface FrameBoundary {
  /** True between two frames. */
  readonly atBoundary: boolean
  feed(chunk: Buffer): void
  /** Consumes `chunk` up to the next boundary; answers how many bytes that took. */
  untilBoundary(chunk: Buffer): number
}

abstract class HeaderSkipper implements FrameBoundary {
  /** Bytes of the current frame's body still to come. */
  protected skip = 0
  protected headerLength = 0

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
    return this.headerByte(chunk[offset] as number)
  }

  /** Takes one header byte; returns 1. Sets `skip` when the header is complete. */
  protected abstract headerByte(byte: number): number
}

/** AMQP 0-9-1 §4.2.3: type(1) channel(2) size(4) payload(size) frame-end(1). */
export class AmqpFrameBoundary extends HeaderSkipper {
  private size = 0

  protected headerByte(byte: number): number {
    this.headerLength++
    if (this.headerLength >= 4) this.size = this.size * 256 + byte
    if (this.headerLength === 7) {
      this.skip = this.size + 1
      this.size = 0
      this.headerLength = 0
    }
    return 1
  }
}

/** MQTT §2.1: fixed header byte, then the remaining length as a variable byte integer (§1.5.5). */
export class MqttPacketBoundary extends HeaderSkipper {
  private remaining = 0
  private multiplier = 1

  protected headerByte(byte: number): number {
    this.headerLength++
    if (this.headerLength === 1) return 1
    this.remaining += (byte & 0x7f) * this.multiplier
    this.multiplier *= 128
    if ((byte & 0x80) === 0 || this.headerLength === 5) {
      this.skip = this.remaining
      this.remaining = 0
      this.multiplier = 1
      this.headerLength = 0
    }
    return 1
  }
}
