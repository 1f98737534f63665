/**
 * AMQP field tables and field values (§4.2.5.5), with the type tags RabbitMQ actually uses (its
 * "AMQP 0-9-1 errata": `s` is a signed short, not a short string; `l` is a signed long-long).
 *
 *  field-table                          field-value-pair             field-array
 *  +----------+-------------------+     +-----------+-----+-------+  +----------+----------------+
 *  | u32 size | field-value-pair* |     | shortstr  | tag | value |  | u32 size | (tag value)*   |
 *  +----------+-------------------+     | name      | u8  |       |  +----------+----------------+
 *                                       +-----------+-----+-------+
 *  tag  value                        tag  value                         tag  value
 *  t    u8 boolean (0 = false)       I    i32                           S    u32 len + octets
 *  b    i8                           i    u32                           A    field-array
 *  B    u8                           l    i64 (RabbitMQ)                T    u64 timestamp (seconds)
 *  s    i16 (RabbitMQ)               L    i64 (0-9-1 long-long-int)     F    field-table
 *  u    u16                          f    float32 / d float64           V    void, no octets
 *  D    decimal: u8 scale + u32      x    u32 len + octets (byte array)
 *
 * Values are kept with their tag, so that what the gateway forwards (client properties to the
 * broker) keeps every value's type. Decode → encode gives the same bytes for tables a client
 * library writes; for arbitrary accepted input it gives a normalised equivalent (a boolean octet
 * other than 0 becomes 1, a repeated field name keeps its last value, as RabbitMQ reads it), which
 * decodes to the same table.
 * Caps: nesting depth (tables and arrays) and the total number of values in one decode, so a
 * frame of nested 'F's cannot exhaust the stack and a frame of 'V's cannot allocate without bound.
 */
import { WireError, WireReader, WireWriter } from './wire'

export type FieldValue =
  | { readonly tag: 't'; readonly value: boolean }
  | { readonly tag: 'b' | 'B' | 's' | 'u' | 'I' | 'i' | 'f' | 'd'; readonly value: number }
  | { readonly tag: 'l' | 'L' | 'T'; readonly value: bigint }
  | { readonly tag: 'D'; readonly scale: number; readonly value: number }
  | { readonly tag: 'S' | 'x'; readonly value: Buffer }
  | { readonly tag: 'A'; readonly value: readonly FieldValue[] }
  | { readonly tag: 'F'; readonly value: FieldTable }
  | { readonly tag: 'V' }

/** Insertion-ordered; a Map so that a field named `__proto__` is just a field. */
export type FieldTable = ReadonlyMap<string, FieldValue>

export interface FieldTableLimits {
  /** Tables/arrays inside tables; the outermost table is depth 1. */
  readonly maxDepth: number
  /** Values (of any type, at any depth) in one decode. */
  readonly maxValues: number
}

export const DEFAULT_FIELD_TABLE_LIMITS: FieldTableLimits = { maxDepth: 16, maxValues: 4096 }

export type FieldTableResult =
  | { readonly ok: true; readonly table: FieldTable }
  | { readonly ok: false; readonly detail: string }

/** Decodes a complete field table including its u32 size prefix, with nothing after it. */
export function decodeFieldTable(bytes: Buffer, limits = DEFAULT_FIELD_TABLE_LIMITS): FieldTableResult {
  return guard(() => {
    const reader = new WireReader(bytes)
    const table = readFieldTable(reader, new Budget(limits))
    if (!reader.atEnd()) throw new WireError(`${reader.remaining()} octets after the field table`)
    return table
  })
}

/** Decodes field-value pairs filling `bytes` (a table body without its size, as in AMQPLAIN). */
export function decodeFieldTableBody(bytes: Buffer, limits = DEFAULT_FIELD_TABLE_LIMITS): FieldTableResult {
  return guard(() => readPairs(bytes, new Budget(limits), 1))
}

function guard(decode: () => FieldTable): FieldTableResult {
  try {
    return { ok: true, table: decode() }
  } catch (err) {
    if (err instanceof WireError) return { ok: false, detail: err.message }
    return { ok: false, detail: 'malformed field table' }
  }
}

/** Counts values and depth for one decode. */
export class Budget {
  private values = 0
  constructor(readonly limits: FieldTableLimits) {}

  value(): void {
    this.values += 1
    if (this.values > this.limits.maxValues) throw new WireError(`more than ${this.limits.maxValues} field values`)
  }

  enter(depth: number): void {
    if (depth > this.limits.maxDepth) throw new WireError(`field tables nested deeper than ${this.limits.maxDepth}`)
  }
}

/** Reads a size-prefixed table at the reader's position (used by method decoders too). */
export function readFieldTable(reader: WireReader, budget: Budget, depth = 1): FieldTable {
  const body = reader.take(reader.u32('field table size'), 'field table')
  return readPairs(body, budget, depth)
}

function readPairs(body: Buffer, budget: Budget, depth: number): FieldTable {
  budget.enter(depth)
  const reader = new WireReader(body)
  const table = new Map<string, FieldValue>()
  while (!reader.atEnd()) {
    const name = reader.shortstr('field name')
    table.set(name, readValue(reader, budget, depth))
  }
  return table
}

function readValue(reader: WireReader, budget: Budget, depth: number): FieldValue {
  budget.value()
  const tag = String.fromCharCode(reader.u8('field type'))
  switch (tag) {
    case 't':
      return { tag, value: reader.u8('boolean') !== 0 }
    case 'b':
      return { tag, value: reader.i8() }
    case 'B':
      return { tag, value: reader.u8() }
    case 's':
      return { tag, value: reader.i16() }
    case 'u':
      return { tag, value: reader.u16() }
    case 'I':
      return { tag, value: reader.i32() }
    case 'i':
      return { tag, value: reader.u32() }
    case 'l':
    case 'L':
      return { tag, value: reader.i64() }
    case 'T':
      return { tag, value: reader.u64('timestamp') }
    case 'f':
      return { tag, value: reader.f32() }
    case 'd':
      return { tag, value: reader.f64() }
    case 'D':
      return { tag, scale: reader.u8('decimal scale'), value: reader.u32('decimal value') }
    case 'S':
    case 'x':
      return { tag, value: reader.longstrBytes(tag === 'S' ? 'long string' : 'byte array') }
    case 'A':
      return { tag, value: readArray(reader, budget, depth + 1) }
    case 'F':
      return { tag, value: readFieldTable(reader, budget, depth + 1) }
    case 'V':
      return { tag }
    default:
      throw new WireError(`unknown field type 0x${tag.charCodeAt(0).toString(16).padStart(2, '0')}`)
  }
}

function readArray(reader: WireReader, budget: Budget, depth: number): FieldValue[] {
  budget.enter(depth)
  const items = new WireReader(reader.take(reader.u32('field array size'), 'field array'))
  const values: FieldValue[] = []
  while (!items.atEnd()) values.push(readValue(items, budget, depth))
  return values
}

/** Encodes a table with its u32 size prefix. Throws RangeError on out-of-range values. */
export function encodeFieldTable(table: FieldTable): Buffer {
  const body = encodeFieldTableBody(table)
  return new WireWriter().u32(body.length).raw(body).toBuffer()
}

/** The field-value pairs without the size prefix (the AMQPLAIN response format). */
export function encodeFieldTableBody(table: FieldTable): Buffer {
  const writer = new WireWriter()
  for (const [name, value] of table) {
    writer.shortstr(name)
    writeValue(writer, value)
  }
  return writer.toBuffer()
}

function writeValue(writer: WireWriter, field: FieldValue): void {
  writer.u8(field.tag.charCodeAt(0))
  writer.raw(encodeValueBody(field))
}

function encodeValueBody(field: FieldValue): Buffer {
  switch (field.tag) {
    case 't':
      return Buffer.from([field.value ? 1 : 0])
    case 'b':
      return fixed(1, (b) => b.writeInt8(field.value, 0))
    case 'B':
      return fixed(1, (b) => b.writeUInt8(field.value, 0))
    case 's':
      return fixed(2, (b) => b.writeInt16BE(field.value, 0))
    case 'u':
      return fixed(2, (b) => b.writeUInt16BE(field.value, 0))
    case 'I':
      return fixed(4, (b) => b.writeInt32BE(field.value, 0))
    case 'i':
      return fixed(4, (b) => b.writeUInt32BE(field.value, 0))
    case 'f':
      return fixed(4, (b) => b.writeFloatBE(field.value, 0))
    case 'd':
      return fixed(8, (b) => b.writeDoubleBE(field.value, 0))
    case 'l':
    case 'L':
      return fixed(8, (b) => b.writeBigInt64BE(field.value, 0))
    case 'T':
      return fixed(8, (b) => b.writeBigUInt64BE(field.value, 0))
    case 'D':
      return fixed(5, (b) => {
        b.writeUInt8(field.scale, 0)
        b.writeUInt32BE(field.value, 1)
      })
    case 'S':
    case 'x':
      return new WireWriter().longstr(field.value).toBuffer()
    case 'A': {
      const items = new WireWriter()
      for (const item of field.value) writeValue(items, item)
      const body = items.toBuffer()
      return new WireWriter().u32(body.length).raw(body).toBuffer()
    }
    case 'F':
      return encodeFieldTable(field.value)
    case 'V':
      return Buffer.alloc(0)
  }
}

function fixed(size: number, write: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(size)
  write(b)
  return b
}

// Builders and readers for the common cases (server-properties, client-properties, AMQPLAIN).

export const longstr = (value: string | Buffer): FieldValue => ({
  tag: 'S',
  value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
})
export const bool = (value: boolean): FieldValue => ({ tag: 't', value })
export const table = (entries: Iterable<readonly [string, FieldValue]>): FieldValue => ({
  tag: 'F',
  value: new Map(entries),
})

/** A long string (or byte array) field as UTF-8 text; undefined when absent or of another type. */
export function fieldText(fields: FieldTable, name: string): string | undefined {
  const field = fields.get(name)
  return field && (field.tag === 'S' || field.tag === 'x') ? field.value.toString('utf8') : undefined
}

export function fieldBoolean(fields: FieldTable, name: string): boolean | undefined {
  const field = fields.get(name)
  return field?.tag === 't' ? field.value : undefined
}

export function fieldTable(fields: FieldTable, name: string): FieldTable | undefined {
  const field = fields.get(name)
  return field?.tag === 'F' ? field.value : undefined
}
