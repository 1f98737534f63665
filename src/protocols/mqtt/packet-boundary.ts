import { HeaderSkipper } from '../../proxy/frame-boundary'

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
