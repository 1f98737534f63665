import t from 'tap'
import {
  bool,
  decodeFieldTable,
  decodeFieldTableBody,
  encodeFieldTable,
  fieldBoolean,
  fieldTable,
  fieldText,
  longstr,
  table,
} from '../../src/protocols/amqp/field-table'
import type { FieldTable, FieldValue } from '../../src/protocols/amqp/field-table'
import { bytes } from './fixture-bytes'

/** One table holding every value type RabbitMQ uses, byte by byte. */
const ALL_TYPES = bytes(
  0x00, 0x00, 0x00, 0x88, //            table size 136
  0x01, 't', 't', 0x01, //               t  boolean true                       (4)
  0x01, 'b', 'b', 0xfe, //               b  int8 -2                            (4)
  0x01, 'B', 'B', 0xfe, //               B  uint8 254                          (4)
  0x01, 's', 's', 0xff, 0xfe, //         s  int16 -2 (RabbitMQ)                (5)
  0x01, 'u', 'u', 0xff, 0xfe, //         u  uint16 65534                       (5)
  0x01, 'I', 'I', 0xff, 0xff, 0xff, 0xfe, // I int32 -2                        (7)
  0x01, 'i', 'i', 0xff, 0xff, 0xff, 0xfe, // i uint32 4294967294               (7)
  0x01, 'l', 'l', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, // l int64 -2 (11)
  0x01, 'L', 'L', 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, // L int64 7  (11)
  0x01, 'f', 'f', 0x3f, 0xc0, 0x00, 0x00, //  f float 1.5                      (7)
  0x01, 'd', 'd', 0x3f, 0xf8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // d 1.5     (11)
  0x01, 'D', 'D', 0x02, 0x00, 0x00, 0x30, 0x39, // D decimal 123.45            (8)
  0x01, 'S', 'S', 0x00, 0x00, 0x00, 0x02, 'h', 'i', // S long string "hi"      (9)
  0x01, 'A', 'A', 0x00, 0x00, 0x00, 0x04, 't', 0x00, 'V', 'V', // A [false, void, void] (11)
  0x01, 'T', 'T', 0x00, 0x00, 0x00, 0x00, 0x65, 0x53, 0xf1, 0x00, // T timestamp 1700000000 (11)
  0x01, 'F', 'F', 0x00, 0x00, 0x00, 0x03, 0x01, 'k', 'V', //       F {k: void} (10)
  0x01, 'V', 'V', //                     V  void                               (3)
  0x01, 'x', 'x', 0x00, 0x00, 0x00, 0x01, 0xff, // x byte array [ff]           (8)
)

t.test('decodes every field value type', async (t) => {
  const result = decodeFieldTable(ALL_TYPES)
  if (!result.ok) {
    t.fail(result.detail)
    return
  }
  const get = (k: string): FieldValue | undefined => result.table.get(k)
  t.same(get('t'), { tag: 't', value: true })
  t.same(get('b'), { tag: 'b', value: -2 })
  t.same(get('B'), { tag: 'B', value: 254 })
  t.same(get('s'), { tag: 's', value: -2 })
  t.same(get('u'), { tag: 'u', value: 65534 })
  t.same(get('I'), { tag: 'I', value: -2 })
  t.same(get('i'), { tag: 'i', value: 4294967294 })
  t.same(get('l'), { tag: 'l', value: -2n })
  t.same(get('L'), { tag: 'L', value: 7n })
  t.same(get('f'), { tag: 'f', value: 1.5 })
  t.same(get('d'), { tag: 'd', value: 1.5 })
  t.same(get('D'), { tag: 'D', scale: 2, value: 12345 })
  t.same(get('S'), { tag: 'S', value: Buffer.from('hi') })
  t.same(get('A'), { tag: 'A', value: [{ tag: 't', value: false }, { tag: 'V' }, { tag: 'V' }] })
  t.same(get('T'), { tag: 'T', value: 1700000000n })
  t.same(get('F'), { tag: 'F', value: new Map([['k', { tag: 'V' }]]) })
  t.same(get('V'), { tag: 'V' })
  t.same(get('x'), { tag: 'x', value: Buffer.from([0xff]) })
  t.same([...result.table.keys()].join(''), 'tbBsuIilLfdDSATFVx', 'order kept')
})

t.test('round trip: encode(decode(bytes)) is the same bytes', async (t) => {
  const result = decodeFieldTable(ALL_TYPES)
  t.ok(result.ok)
  if (result.ok) t.same(encodeFieldTable(result.table), ALL_TYPES)
})

t.test('builds and reads the common fields', async (t) => {
  const props: FieldTable = new Map([
    ['product', longstr('Portcullis')],
    ['capabilities', table([['publisher_confirms', bool(true)]])],
  ])
  const encoded = encodeFieldTable(props)
  t.same(
    encoded,
    bytes(
      0x00, 0x00, 0x00, 0x3e, //                            size 62
      0x07, 'product', 'S', 0x00, 0x00, 0x00, 0x0a, 'Portcullis', // 23
      0x0c, 'capabilities', 'F', 0x00, 0x00, 0x00, 0x15, //        18 + 21
      0x12, 'publisher_confirms', 't', 0x01,
    ),
  )
  const back = decodeFieldTable(encoded)
  if (!back.ok) {
    t.fail(back.detail)
    return
  }
  t.equal(fieldText(back.table, 'product'), 'Portcullis')
  t.equal(fieldBoolean(fieldTable(back.table, 'capabilities') ?? new Map(), 'publisher_confirms'), true)
  t.equal(fieldText(back.table, 'missing'), undefined)
  t.equal(fieldBoolean(back.table, 'product'), undefined, 'wrong type reads as absent')
})

t.test('a field named __proto__ is just a field', async (t) => {
  const encoded = encodeFieldTable(new Map([['__proto__', longstr('x')]]))
  const back = decodeFieldTable(encoded)
  t.equal(back.ok && fieldText(back.table, '__proto__'), 'x')
})

t.test('refuses malformed tables with an error result', async (t) => {
  const cases: Array<[string, Buffer]> = [
    ['size larger than the bytes', bytes(0, 0, 0, 9, 0x01, 'a', 'V')],
    ['unknown type tag', bytes(0, 0, 0, 3, 0x01, 'a', 'Z')],
    ['short string as field value (not a RabbitMQ type)', bytes(0, 0, 0, 2, 0x01, 'a')],
    ['truncated long string', bytes(0, 0, 0, 8, 0x01, 'a', 'S', 0, 0, 0, 9, 'x')],
    ['truncated int32', bytes(0, 0, 0, 5, 0x01, 'a', 'I', 0, 0)],
    ['array overruns its table', bytes(0, 0, 0, 8, 0x01, 'a', 'A', 0, 0, 0, 5, 'V')],
    ['octets after the table', bytes(0, 0, 0, 0, 0xff)],
    ['no size', bytes(0, 0)],
  ]
  for (const [name, input] of cases) {
    const result = decodeFieldTable(input)
    t.equal(result.ok, false, name)
  }
})

t.test('caps nesting depth and the number of values', async (t) => {
  let nested = encodeFieldTable(new Map())
  for (let i = 0; i < 40; i += 1) nested = encodeFieldTable(new Map([['n', { tag: 'F', value: decodeOrThrow(nested) }]]))
  const deep = decodeFieldTable(nested)
  t.equal(deep.ok, false, '41 levels refused')
  t.match(deep.ok ? '' : deep.detail, /nested deeper/)
  t.equal(decodeFieldTable(nested, { maxDepth: 64, maxValues: 4096 }).ok, true, 'allowed with a larger cap')

  const voids = Buffer.concat(Array.from({ length: 5000 }, () => bytes(0x01, 'v', 'V')))
  const many = decodeFieldTableBody(voids)
  t.equal(many.ok, false, '5000 values refused by the default cap')
  t.match(many.ok ? '' : many.detail, /more than 4096/)

  // Deep arrays count as nesting too.
  let arr = bytes('V')
  for (let i = 0; i < 40; i += 1) arr = bytes('A', u32(arr.length), arr)
  t.equal(decodeFieldTableBody(bytes(0x01, 'a', arr)).ok, false, 'nested arrays refused')
})

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(n, 0)
  return b
}

function decodeOrThrow(bytes: Buffer): FieldTable {
  const r = decodeFieldTable(bytes, { maxDepth: 1000, maxValues: 100000 })
  if (!r.ok) throw new Error(r.detail)
  return r.table
}
