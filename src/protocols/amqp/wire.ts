/**
 * AMQP 0-9-1 primitive domains (§4.2.5): integers are big-endian ("network byte order", §4.2.5.1).
 *
 *  octet u8 | short u16 | long u32 | longlong u64 | bit: packed into octets, LSB first (§4.2.5.2)
 *  shortstr: u8 length + octets (≤255)           | longstr: u32 length + octets (§4.2.5.3)
 *
 * WireReader throws WireError on a short read; the public decoders catch it at their boundary and
 * return an error result, so no exception ever leaves the codec.
 */
export class WireError extends Error {}

/** Throws on invalid UTF-8 instead of substituting U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

export class WireReader {
  private pos = 0
  constructor(private readonly buf: Buffer) {}

  get offset(): number {
    return this.pos
  }

  remaining(): number {
    return this.buf.length - this.pos
  }

  atEnd(): boolean {
    return this.pos === this.buf.length
  }

  take(length: number, what: string): Buffer {
    if (length > this.remaining()) throw new WireError(`truncated ${what}`)
    const slice = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return slice
  }

  u8(what = 'octet'): number {
    return this.take(1, what).readUInt8(0)
  }

  i8(what = 'octet'): number {
    return this.take(1, what).readInt8(0)
  }

  u16(what = 'short'): number {
    return this.take(2, what).readUInt16BE(0)
  }

  i16(what = 'short'): number {
    return this.take(2, what).readInt16BE(0)
  }

  u32(what = 'long'): number {
    return this.take(4, what).readUInt32BE(0)
  }

  i32(what = 'long'): number {
    return this.take(4, what).readInt32BE(0)
  }

  u64(what = 'longlong'): bigint {
    return this.take(8, what).readBigUInt64BE(0)
  }

  i64(what = 'longlong'): bigint {
    return this.take(8, what).readBigInt64BE(0)
  }

  f32(what = 'float'): number {
    return this.take(4, what).readFloatBE(0)
  }

  f64(what = 'double'): number {
    return this.take(8, what).readDoubleBE(0)
  }

  /**
   * Short strings (method arguments, field names) are text: an invalid UTF-8 one is refused here
   * rather than decoded with replacement characters, which would grow it past 255 octets and make
   * the gateway unable to re-encode what it accepted (found by property-based fuzzing).
   */
  shortstr(what = 'shortstr'): string {
    const bytes = this.take(this.u8(what), what)
    try {
      return UTF8.decode(bytes)
    } catch {
      throw new WireError(`${what} is not valid UTF-8`)
    }
  }

  longstrBytes(what = 'longstr'): Buffer {
    return this.take(this.u32(what), what)
  }
}

/** Collects encoded parts; each writer method validates its range and throws RangeError. */
export class WireWriter {
  private readonly parts: Buffer[] = []

  u8(value: number): this {
    const b = Buffer.allocUnsafe(1)
    b.writeUInt8(value, 0)
    return this.raw(b)
  }

  u16(value: number): this {
    const b = Buffer.allocUnsafe(2)
    b.writeUInt16BE(value, 0)
    return this.raw(b)
  }

  u32(value: number): this {
    const b = Buffer.allocUnsafe(4)
    b.writeUInt32BE(value, 0)
    return this.raw(b)
  }

  shortstr(value: string): this {
    const bytes = Buffer.from(value, 'utf8')
    if (bytes.length > 0xff) throw new RangeError('shortstr longer than 255 octets')
    return this.u8(bytes.length).raw(bytes)
  }

  longstr(value: Buffer | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
    return this.u32(bytes.length).raw(bytes)
  }

  raw(bytes: Buffer): this {
    this.parts.push(bytes)
    return this
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts)
  }
}
