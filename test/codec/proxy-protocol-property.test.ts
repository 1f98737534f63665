import t from 'tap'
import fc from 'fast-check'
import { bytes, mutated } from '../helpers/arbitraries'
import assert from 'node:assert/strict'
import {
  ProxyHeaderReader, V1_MAX_LENGTH, aliyunTlv, awsVpceTlv, azureLinkIdTlv, encodeProxyV1, encodeProxyV2, gcpPscTlv,
  type ProxyHeaderResult, type ProxyTlv,
} from '../../src/tunnel/proxy-protocol'
import { V2_SIGNATURE } from '../../src/tunnel/proxy-protocol-v2'
import { splitAt } from '../helpers/socket-pair'

/**
 * Properties of the PROXY protocol reader (haproxy proxy-protocol.txt §2.1 v1, §2.2 v2, §2.2.7
 * TLVs, §2.2.8 custom VPC TLVs) over arbitrary bytes: it never throws, its answer does not depend
 * on how the bytes were chunked, it never holds more than a header can span, a v2 length over the
 * cap is refused from the 16-octet prelude, and what it accepts re-encodes to the same bytes.
 */
const RUNS = 300
const KINDS = new Set(['need-more', 'none', 'header', 'error'])

type Final = Exclude<ProxyHeaderResult, { kind: 'need-more' }> | { kind: 'need-more' }

/** What the reader keeps between pushes (a private field: the memory bound is the property). */
function held(reader: ProxyHeaderReader): number {
  return (reader as unknown as { buf: Buffer }).buf.length
}

/** Feeds chunks until an answer; `rest` is completed with the chunks never pushed, as the stage would read them. */
function feed(input: readonly Buffer[], maxV2Length: number, bound: (n: number) => void): { result: Final; after: Buffer } {
  const reader = new ProxyHeaderReader({ maxV2Length })
  for (let i = 0; i < input.length; i += 1) {
    const result = reader.push(input[i]!)
    if (!KINDS.has(result.kind)) throw new Error(`unexpected answer ${JSON.stringify(result)}`)
    if (result.kind === 'need-more') {
      bound(held(reader))
      continue
    }
    const unread = Buffer.concat(input.slice(i + 1))
    const after = result.kind === 'error' ? Buffer.alloc(0) : Buffer.concat([result.rest, unread])
    return { result, after }
  }
  return { result: { kind: 'need-more' }, after: Buffer.alloc(0) }
}

function summary(r: Final): unknown {
  if (r.kind === 'header') return { kind: r.kind, header: r.header }
  if (r.kind === 'error') return { kind: r.kind, detail: r.detail }
  return { kind: r.kind }
}

const port = fc.integer({ min: 0, max: 0xffff })

/** TLVs that carry no VPC identity (type outside the custom VPC types) or a well-formed one. */
const tlv: fc.Arbitrary<ProxyTlv> = fc.oneof(
  fc.record({
    type: fc.integer({ min: 0, max: 0xff }).filter((n) => ![0xe0, 0xe1, 0xea, 0xee].includes(n)),
    value: bytes(40),
  }),
  fc.stringMatching(/^[!-~]{1,40}$/).map((id) => awsVpceTlv(id)),
  fc.integer({ min: 0, max: 0xffffffff }).map((id) => azureLinkIdTlv(id)),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }).map((id) => gcpPscTlv(id)),
  fc.tuple(fc.constantFrom('vpc-id' as const, 'vpc-endpoint-id' as const), fc.stringMatching(/^[!-~]{1,40}$/)).map(([k, id]) => aliyunTlv(k, id)),
)

const v2Header: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ source: fc.record({ ip: fc.ipV4(), port }), destination: fc.record({ ip: fc.ipV4(), port }), tlvs: fc.array(tlv, { maxLength: 4 }) })
    .map((h) => encodeProxyV2({ family: 'IPv4', ...h })),
  fc.record({ source: fc.record({ ip: fc.ipV6(), port }), destination: fc.record({ ip: fc.ipV6(), port }), tlvs: fc.array(tlv, { maxLength: 4 }) })
    .map((h) => encodeProxyV2({ family: 'IPv6', ...h })),
  fc.constant(encodeProxyV2({ command: 'LOCAL', family: 'UNSPEC' })),
)

const v1Header: fc.Arbitrary<Buffer> = fc.oneof(
  fc.record({ source: fc.record({ ip: fc.ipV4(), port }), destination: fc.record({ ip: fc.ipV4(), port }) }).map((h) => encodeProxyV1({ family: 'IPv4', ...h })),
  fc.record({ source: fc.record({ ip: fc.ipV6(), port }), destination: fc.record({ ip: fc.ipV6(), port }) }).map((h) => encodeProxyV1({ family: 'IPv6', ...h })),
  fc.constant(encodeProxyV1({ family: 'UNSPEC' })),
)

/** Client bytes biased towards the interesting places: signatures, valid headers, their mutants. */
const clientBytes: fc.Arbitrary<Buffer> = fc.tuple(
  fc.oneof(
    bytes(120),
    bytes(64).map((b) => Buffer.concat([V2_SIGNATURE, b])),
    fc.string({ maxLength: 120 }).map((s) => Buffer.from(`PROXY ${s}`, 'latin1')),
    v1Header, v2Header, mutated(v1Header, 0), mutated(v2Header, 0),
  ),
  bytes(16),
).map(([head, tail]) => Buffer.concat([head, tail]))

const cuts = fc.array(fc.nat(), { maxLength: 12 })
const cap = fc.integer({ min: 0, max: 300 })

t.test('never throws, answers the same however the bytes are chunked, and holds no more than one header', async (t) => {
  fc.assert(fc.property(clientBytes, cuts, cap, (input, at, maxV2Length) => {
    const limit = Math.max(V1_MAX_LENGTH, 16 + maxV2Length)
    const bound = (n: number): void => {
      if (n >= limit) throw new Error(`holds ${n} octets waiting for more (limit ${limit})`)
    }
    const whole = feed([input], maxV2Length, bound)
    const chunked = feed(splitAt(input, at), maxV2Length, bound)
    if (whole.result.kind === 'need-more' && input.length >= limit) throw new Error('still waiting after a header\'s worth of octets')
    assert.deepEqual(summary(chunked.result), summary(whole.result))
    assert.deepEqual(chunked.after, whole.after, 'the bytes after the header are the same')
    if (whole.result.kind === 'none') assert.deepEqual(whole.after, input, 'no header: every byte is handed on')
  }), { numRuns: RUNS })
  t.pass(`${RUNS} inputs`)
})

t.test('a v2 length over the cap is refused from the 16-octet prelude, before the block arrives', async (t) => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 2048 }), fc.integer({ min: 1, max: 0xffff }), fc.constantFrom(0x20, 0x21), fc.constantFrom(0x11, 0x21, 0x00),
    (maxV2Length, declared, verCmd, famTr) => {
      fc.pre(declared > maxV2Length)
      const prelude = Buffer.concat([V2_SIGNATURE, Buffer.from([verCmd, famTr, declared >> 8, declared & 0xff])])
      const result = new ProxyHeaderReader({ maxV2Length }).push(prelude)
      assert.equal(result.kind, 'error')
      assert.match(result.kind === 'error' ? result.detail : '', /exceeds/)
    }), { numRuns: RUNS })
  t.pass(`${RUNS} preludes`)
})

t.test('a v2 PROXY/STREAM header it accepts re-encodes to exactly the octets it consumed (addresses, ports, TLVs)', async (t) => {
  let checked = 0
  fc.assert(fc.property(fc.oneof(v2Header, mutated(v2Header, 0)), bytes(8), (header, tail) => {
    const input = Buffer.concat([header, tail])
    const result = new ProxyHeaderReader({ maxV2Length: 2048 }).push(input)
    if (result.kind !== 'header') return
    const h = result.header
    const consumed = input.subarray(0, input.length - result.rest.length)
    if (h.command === 'PROXY' && h.transport === 'STREAM' && (h.family === 'IPv4' || h.family === 'IPv6')) {
      checked += 1
      assert.deepEqual(encodeProxyV2({ family: h.family, source: h.source!, destination: h.destination!, tlvs: h.tlvs }), consumed)
    }
  }), { numRuns: RUNS })
  t.ok(checked > RUNS / 4, `${checked} accepted headers re-encoded`)
})

t.test('a v1 line it accepts re-encodes to the same line (addresses lower-cased)', async (t) => {
  fc.assert(fc.property(v1Header, bytes(8), (header, tail) => {
    const result = new ProxyHeaderReader().push(Buffer.concat([header, tail]))
    if (result.kind !== 'header') throw new Error(`refused a valid v1 line ${JSON.stringify(header.toString('latin1'))}`)
    const h = result.header
    const again = h.family === 'UNSPEC' ? encodeProxyV1({ family: 'UNSPEC' }) : encodeProxyV1({ family: h.family as 'IPv4' | 'IPv6', source: h.source!, destination: h.destination! })
    assert.equal(again.toString('latin1'), header.toString('latin1').toLowerCase().replace('proxy tcp', 'PROXY TCP').replace('proxy unknown', 'PROXY UNKNOWN'))
    assert.deepEqual(result.rest, tail)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} lines`)
})
