import { HeaderSkipper } from '../../proxy/frame-boundary'

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
