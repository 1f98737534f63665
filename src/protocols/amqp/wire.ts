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

  // The integers are read in place: a subarray for each would be an object per field read.
  u8(what = 'octet'): number {
    const at = this.advance(1, what)
    return this.buf.readUInt8(at)
  }

  i8(what = 'octet'): number {
    const at = this.advance(1, what)
    return this.buf.readInt8(at)
  }

  u16(what = 'short'): number {
    const at = this.advance(2, what)
    return this.buf.readUInt16BE(at)
  }

  i16(what = 'short'): number {
    const at = this.advance(2, what)
    return this.buf.readInt16BE(at)
  }

  u32(what = 'long'): number {
    const at = this.advance(4, what)
    return this.buf.readUInt32BE(at)
  }

  i32(what = 'long'): number {
    const at = this.advance(4, what)
    return this.buf.readInt32BE(at)
  }

  u64(what = 'longlong'): bigint {
    const at = this.advance(8, what)
    return this.buf.readBigUInt64BE(at)
  }

  i64(what = 'longlong'): bigint {
    const at = this.advance(8, what)
    return this.buf.readBigInt64BE(at)
  }

  f32(what = 'float'): number {
    const at = this.advance(4, what)
    return this.buf.readFloatBE(at)
  }

  f64(what = 'double'): number {
    const at = this.advance(8, what)
    return this.buf.readDoubleBE(at)
  }

  /** The offset of the next `length` octets, consumed; throws as `take` does when they are not there. */
  private advance(length: number, what: string): number {
    if (length > this.remaining()) throw new WireError(`truncated ${what}`)
    const at = this.pos
    this.pos += length
    return at
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

/**
 * Encodes into one buffer that grows as needed; each writer method validates its range and throws
 * RangeError. One allocation per frame in the common case, not one per field.
 */
export class WireWriter {
  private buf = Buffer.allocUnsafe(256)
  private pos = 0

  u8(value: number): this {
    this.reserve(1)
    this.pos = this.buf.writeUInt8(value, this.pos)
    return this
  }

  u16(value: number): this {
    this.reserve(2)
    this.pos = this.buf.writeUInt16BE(value, this.pos)
    return this
  }

  u32(value: number): this {
    this.reserve(4)
    this.pos = this.buf.writeUInt32BE(value, this.pos)
    return this
  }

  shortstr(value: string): this {
    const length = Buffer.byteLength(value, 'utf8')
    if (length > 0xff) throw new RangeError('shortstr longer than 255 octets')
    return this.u8(length).utf8(value, length)
  }

  longstr(value: Buffer | string): this {
    if (typeof value !== 'string') return this.u32(value.length).raw(value)
    const length = Buffer.byteLength(value, 'utf8')
    return this.u32(length).utf8(value, length)
  }

  raw(bytes: Buffer): this {
    this.reserve(bytes.length)
    this.pos += bytes.copy(this.buf, this.pos)
    return this
  }

  /** What was written: a view of the writer's buffer, which the writer must not be used after. */
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.pos)
  }

  /** `value`'s UTF-8 octets, `length` of them (its Buffer.byteLength), with no prefix. */
  private utf8(value: string, length: number): this {
    this.reserve(length)
    this.pos += this.buf.write(value, this.pos, length, 'utf8')
    return this
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + bytes))
    this.buf.copy(grown, 0, 0, this.pos)
    this.buf = grown
  }
}
