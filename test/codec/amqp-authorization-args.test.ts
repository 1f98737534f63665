/**
 * The argument decoders of the AMQP authorization filters (src/protocols/amqp/authorization/
 * method-args.ts): byte-annotated method frames as a client library writes them, and the names
 * read from them; truncated and non-UTF-8 arguments are malformed, never guessed.
 */
import t from 'tap'
import { MethodArgs } from '../../src/protocols/amqp/authorization/method-args'
import { METHODS, methodKey } from '../../src/protocols/amqp/authorization/method-ids'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+|#[^\n]*/g, ''), 'hex')

/** A method frame on channel 1 around `args` (class and method ids from `key`). */
function frame(key: number, args: Buffer): Buffer {
  const payload = Buffer.concat([Buffer.from([key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff]), args])
  const head = Buffer.alloc(7)
  head.writeUInt8(1, 0)
  head.writeUInt16BE(1, 1)
  head.writeUInt32BE(payload.length, 3)
  return Buffer.concat([head, payload, Buffer.from([0xce])])
}

function read(key: number, args: Buffer, at = 0): { ok: boolean; a: MethodArgs } {
  const a = new MethodArgs()
  const f = Buffer.concat([Buffer.alloc(at), frame(key, args)])
  return { ok: a.read(key, f, at, f.length - 1), a }
}

const fixtures: Array<{ name: string; key: number; args: Buffer; first?: string; second?: string; tag?: string; noWait?: boolean }> = [
  {
    name: 'Basic.Publish to amq.topic',
    key: METHODS.BASIC_PUBLISH,
    args: hex(`0000                     # reserved-1
               09 616d712e746f706963    # exchange "amq.topic"
               03 612e62                # routing-key "a.b"
               00                       # mandatory, immediate`),
    first: 'amq.topic',
  },
  {
    name: 'Basic.Publish to the default exchange',
    key: METHODS.BASIC_PUBLISH,
    args: hex('0000 00 01 71 00'),
    first: '',
  },
  {
    name: 'Basic.Consume with a tag, no-wait',
    key: METHODS.BASIC_CONSUME,
    args: hex(`0000 01 71                # reserved-1, queue "q"
               04 74616731              # consumer-tag "tag1"
               0a                       # no-ack (bit 1) | no-wait (bit 3)
               00000000                 # arguments: empty table`),
    first: 'q', tag: 'tag1', noWait: true,
  },
  {
    name: 'Basic.Consume untagged',
    key: METHODS.BASIC_CONSUME,
    args: hex('0000 02 7131 00 02 00000000'),
    first: 'q1', tag: '', noWait: false,
  },
  {
    name: 'Queue.Bind names the queue, then the exchange',
    key: METHODS.QUEUE_BIND,
    args: hex('0000 01 71 01 78 02 726b 00 00000000'),
    first: 'q', second: 'x',
  },
  {
    name: 'Exchange.Bind names the destination, then the source',
    key: METHODS.EXCHANGE_BIND,
    args: hex('0000 03 647374 03 737263 00 00 00000000'),
    first: 'dst', second: 'src',
  },
  {
    name: 'Basic.Cancel has no reserved short',
    key: METHODS.BASIC_CANCEL,
    args: hex('04 74616731 00'),
    tag: 'tag1',
  },
  {
    name: 'Basic.Consume-Ok',
    key: METHODS.BASIC_CONSUME_OK,
    args: hex('0a 616d712e637461672d31'),
    tag: 'amq.ctag-1',
  },
  {
    name: 'Queue.Declare with a UTF-8 name',
    key: METHODS.QUEUE_DECLARE,
    args: Buffer.concat([hex('0000 05'), Buffer.from('qüeu', 'utf8'), hex('00 00000000')]),
    first: 'qüeu',
  },
]

t.test('reads the names each method is decided on', async (t) => {
  for (const f of fixtures) {
    for (const at of [0, 5]) {
      const { ok, a } = read(f.key, f.args, at)
      t.ok(ok, `${f.name} (frame at ${at})`)
      if (f.first !== undefined) t.equal(a.first, f.first, `${f.name}: first`)
      if (f.second !== undefined) t.equal(a.second, f.second, `${f.name}: second`)
      if (f.tag !== undefined) t.equal(a.tag, f.tag, `${f.name}: tag`)
      if (f.noWait !== undefined) t.equal(a.noWait, f.noWait, `${f.name}: no-wait`)
    }
  }
})

t.test('a name cut short by the frame is malformed', async (t) => {
  // exchange length 9 but only 3 octets before the frame end
  t.notOk(read(METHODS.BASIC_PUBLISH, hex('0000 09 616d71')).ok, 'truncated exchange')
  t.notOk(read(METHODS.BASIC_PUBLISH, hex('00')).ok, 'no room for the reserved short')
  t.notOk(read(METHODS.QUEUE_BIND, hex('0000 01 71 05 78')).ok, 'truncated second name')
  t.notOk(read(METHODS.BASIC_CONSUME, hex('0000 01 71 01 74')).ok, 'Consume without its bits')
  t.notOk(read(METHODS.BASIC_CANCEL, hex('')).ok, 'Cancel without a tag')
})

t.test('a name that is not UTF-8 is malformed, not replaced', async (t) => {
  t.notOk(read(METHODS.BASIC_PUBLISH, hex('0000 02 ff fe 00 00')).ok, '0xff 0xfe')
  t.notOk(read(METHODS.QUEUE_DECLARE, hex('0000 01 c3 00 00000000')).ok, 'a cut two-octet sequence')
})

t.test('the name cache tells apart names of the same length and reuses equal ones', async (t) => {
  const a = new MethodArgs()
  const names = ['ex-a', 'ex-b', 'ex-a', 'ex-c', 'ex-d', 'ex-e', 'ex-a', 'ex-b']
  for (const name of names) {
    const f = frame(METHODS.BASIC_PUBLISH, Buffer.concat([hex('0000'), Buffer.from([name.length]), Buffer.from(name), hex('00 00')]))
    t.ok(a.read(METHODS.BASIC_PUBLISH, f, 0, f.length - 1))
    t.equal(a.first, name)
  }
  t.equal(methodKey(60, 40), METHODS.BASIC_PUBLISH)
})

t.test('the name cache compares a name in place, wherever the frame sits in the chunk', async (t) => {
  const a = new MethodArgs()
  const publish = (name: string): Buffer => frame(METHODS.BASIC_PUBLISH, Buffer.concat([hex('0000'), Buffer.from([Buffer.byteLength(name)]), Buffer.from(name), hex('00 00')]))
  // The same name at other offsets, then names that share its length or its first octets, then ''.
  const cases: Array<[string, number]> = [['amq.topic', 0], ['amq.topic', 3], ['amq.topic', 17], ['amq.topiX', 3], ['amq.topi', 0], ['amq.topic', 9], ['', 2], ['amq.topic', 0], ['', 0]]
  for (const [name, at] of cases) {
    const chunk = Buffer.concat([Buffer.alloc(at, 0x61), publish(name), Buffer.alloc(4, 0x61)])
    t.ok(a.read(METHODS.BASIC_PUBLISH, chunk, at, at + publish(name).length - 1), `"${name}" at ${at}`)
    t.equal(a.first, name, `"${name}" at ${at}`)
  }
})
