import t from 'tap'
import {
  ProxyHeaderReader,
  aliyunTlv,
  awsVpceTlv,
  azureLinkIdTlv,
  encodeProxyV1,
  encodeProxyV2,
  gcpPscTlv,
} from '../../src/tunnel/proxy-protocol'
import type { ProxyHeaderResult } from '../../src/tunnel/proxy-protocol'
import { bytesToIPv6, ipv6ToBytes } from '../../src/tunnel/ip-bytes'
import { bytes } from './fixture-bytes'

const SIG = bytes(0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 'QUIT', 0x0a)
const CLIENT_HELLO = bytes(0x16, 0x03, 0x01, 0x00, 0x05)

function read(input: Buffer, maxV2Length?: number): ProxyHeaderResult {
  return new ProxyHeaderReader(maxV2Length === undefined ? {} : { maxV2Length }).push(input)
}

function readByteByByte(input: Buffer): ProxyHeaderResult {
  const reader = new ProxyHeaderReader()
  let result: ProxyHeaderResult = { kind: 'need-more' }
  for (const byte of input) {
    result = reader.push(Buffer.from([byte]))
    if (result.kind !== 'need-more') break
  }
  return result
}

t.test('v1: TCP4, TCP6 and UNKNOWN lines', async (t) => {
  const tcp4 = read(Buffer.concat([bytes('PROXY TCP4 192.0.2.1 198.51.100.7 56324 8883\r\n'), CLIENT_HELLO]))
  t.match(tcp4, {
    kind: 'header',
    header: { version: 1, command: 'PROXY', family: 'IPv4', source: { ip: '192.0.2.1', port: 56324 }, destination: { ip: '198.51.100.7', port: 8883 } },
  })
  t.same(tcp4.kind === 'header' && tcp4.rest, CLIENT_HELLO, 'rest is the TLS record')
  const tcp6 = readByteByByte(bytes('PROXY TCP6 2001:DB8::1 2001:db8::2 1 65535\r\n'))
  t.match(tcp6, { kind: 'header', header: { family: 'IPv6', source: { ip: '2001:db8::1', port: 1 }, destination: { port: 65535 } } })
  const unknown = read(bytes('PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n'))
  t.match(unknown, { kind: 'header', header: { version: 1, family: 'UNSPEC' } })
  t.equal(unknown.kind === 'header' && unknown.header.source, undefined, 'UNKNOWN has no source')
})

t.test('v1: refuses malformed lines', async (t) => {
  const cases: Array<[string, string]> = [
    ['IPv6 under TCP4', 'PROXY TCP4 ::1 ::1 1 2\r\n'],
    ['port above 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n'],
    ['port with a leading zero', 'PROXY TCP4 1.2.3.4 5.6.7.8 080 1\r\n'],
    ['missing field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'],
    ['double space', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'],
    ['unknown protocol', 'PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n'],
  ]
  for (const [name, line] of cases) t.equal(read(bytes(line)).kind, 'error', name)
  t.equal(read(bytes('PROXY TCP4 ' + '1'.repeat(120))).kind, 'error', 'no CRLF within 107 octets')
  t.equal(read(bytes('PROXY TCP4 ' + '1'.repeat(80))).kind, 'need-more', 'still within 107 octets')
})

const V2_TCP4_AWS = bytes(
  SIG, //                                 signature
  0x21, //                                version 2, PROXY
  0x11, //                                INET, STREAM
  0x00, 0x26, //                          length 38 = 12 address + 26 TLV
  192, 0, 2, 1, //                        source 192.0.2.1
  198, 51, 100, 7, //                     destination 198.51.100.7
  0xdc, 0x04, //                          source port 56324
  0x22, 0xb3, //                          destination port 8883
  0xea, 0x00, 0x17, //                    TLV 0xEA (AWS), length 23
  0x01, 'vpce-0123456789abcdef0', //      subtype 01, VPC endpoint id (22 octets)
)

t.test('v2: TCP4 with an AWS VPC endpoint TLV', async (t) => {
  const result = read(Buffer.concat([V2_TCP4_AWS, CLIENT_HELLO]))
  t.match(result, {
    kind: 'header',
    header: {
      version: 2,
      command: 'PROXY',
      family: 'IPv4',
      transport: 'STREAM',
      source: { ip: '192.0.2.1', port: 56324 },
      destination: { ip: '198.51.100.7', port: 8883 },
      vpc: { cloud: 'aws', kind: 'vpc-endpoint-id', id: 'vpce-0123456789abcdef0' },
    },
  })
  t.same(result.kind === 'header' && result.rest, CLIENT_HELLO)
  t.same(readByteByByte(V2_TCP4_AWS), { ...result, rest: Buffer.alloc(0) }, 'same result octet by octet')
  t.same(
    encodeProxyV2({ source: { ip: '192.0.2.1', port: 56324 }, destination: { ip: '198.51.100.7', port: 8883 }, tlvs: [awsVpceTlv('vpce-0123456789abcdef0')] }),
    V2_TCP4_AWS,
    'encoder produces the fixture',
  )
})

const TCP6_PREFIX = bytes(
  SIG,
  0x21, //                                version 2, PROXY
  0x21, //                                INET6, STREAM
)
const ADDR6 = bytes(
  0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // 2001:db8::1
  0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, // 2001:db8::2
  0x01, 0xbb, 0x22, 0xb3, //              ports 443, 8883
)

function v6WithTlvs(tlvs: Buffer): Buffer {
  const len = Buffer.alloc(2)
  len.writeUInt16BE(ADDR6.length + tlvs.length, 0)
  return Buffer.concat([TCP6_PREFIX, len, ADDR6, tlvs])
}

t.test('v2: VPC identity from each cloud TLV', async (t) => {
  const cases: Array<[string, Buffer, { cloud: string; kind: string; id: string }]> = [
    [
      'Azure LinkID, u32 little-endian',
      bytes(0xee, 0x00, 0x05, 0x01, 0x78, 0x56, 0x34, 0x12), // TLV 0xEE len 5: subtype 01, 0x12345678 LE
      { cloud: 'azure', kind: 'private-endpoint-link-id', id: '305419896' },
    ],
    [
      'GCP PSC connection id, u64 big-endian',
      bytes(0xe0, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x39), // TLV 0xE0 len 8: 12345
      { cloud: 'gcp', kind: 'psc-connection-id', id: '12345' },
    ],
    [
      'GCP PSC id above 2^53 stays exact',
      bytes(0xe0, 0x00, 0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      { cloud: 'gcp', kind: 'psc-connection-id', id: '18446744073709551615' },
    ],
    [
      'Aliyun VPC id',
      bytes(0xe1, 0x00, 0x0f, 0x01, 'vpc-abcdef1234'), // TLV 0xE1 len 15: subtype 01
      { cloud: 'aliyun', kind: 'vpc-id', id: 'vpc-abcdef1234' },
    ],
    [
      'Aliyun endpoint id',
      bytes(0xe1, 0x00, 0x0d, 0x02, 'ep-123456789'), // subtype 02
      { cloud: 'aliyun', kind: 'vpc-endpoint-id', id: 'ep-123456789' },
    ],
    [
      'Aliyun VPC id outranks the endpoint id before it',
      bytes(0xe1, 0x00, 0x0d, 0x02, 'ep-123456789', 0xe1, 0x00, 0x0f, 0x01, 'vpc-abcdef1234'),
      { cloud: 'aliyun', kind: 'vpc-id', id: 'vpc-abcdef1234' },
    ],
    [
      'unknown TLVs and subtypes are skipped',
      bytes(0x04, 0x00, 0x02, 0x00, 0x00, 0xea, 0x00, 0x02, 0x7f, 'x', 0xea, 0x00, 0x05, 0x01, 'vpce'), // NOOP, AWS subtype 7f, AWS 01
      { cloud: 'aws', kind: 'vpc-endpoint-id', id: 'vpce' },
    ],
  ]
  for (const [name, tlvs, vpc] of cases) {
    const result = read(v6WithTlvs(tlvs))
    t.match(result, { kind: 'header', header: { family: 'IPv6', source: { ip: '2001:db8::1', port: 443 }, vpc } }, name)
  }
  const built = read(encodeProxyV2({ family: 'IPv6', source: { ip: '2001:db8::1', port: 443 }, destination: { ip: '2001:db8::2', port: 8883 }, tlvs: [azureLinkIdTlv(305419896)] }))
  t.same(built.kind === 'header' && built.header.vpc, { cloud: 'azure', kind: 'private-endpoint-link-id', id: '305419896' }, 'azure builder')
  t.same(encodeProxyV2({ source: { ip: '1.1.1.1', port: 1 }, destination: { ip: '2.2.2.2', port: 2 }, tlvs: [gcpPscTlv(12345n)] }).subarray(-11), bytes(0xe0, 0x00, 0x08, 0, 0, 0, 0, 0, 0, 0x30, 0x39), 'gcp builder')
  t.same(aliyunTlv('vpc-id', 'vpc-x').value, bytes(0x01, 'vpc-x'), 'aliyun builder')
  const none = read(v6WithTlvs(Buffer.alloc(0)))
  t.equal(none.kind === 'header' && none.header.vpc, undefined, 'no TLV, no VPC')
})

t.test('v2: refuses malformed headers', async (t) => {
  const v4 = (verCmd: number, famTr: number, block: Buffer): Buffer => {
    const len = Buffer.alloc(2)
    len.writeUInt16BE(block.length, 0)
    return Buffer.concat([SIG, bytes(verCmd, famTr), len, block])
  }
  const addr = bytes(1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 0, 2)
  const cases: Array<[string, Buffer]> = [
    ['version 1 nibble', v4(0x11, 0x11, addr)],
    ['command 2', v4(0x22, 0x11, addr)],
    ['family 4', v4(0x21, 0x41, addr)],
    ['transport 3', v4(0x21, 0x13, addr)],
    ['INET block too short', v4(0x21, 0x11, addr.subarray(0, 8))],
    ['TLV header truncated', v4(0x21, 0x11, Buffer.concat([addr, bytes(0xea, 0x00)]))],
    ['TLV overruns', v4(0x21, 0x11, Buffer.concat([addr, bytes(0xea, 0x00, 0x09, 0x01, 'v')]))],
    ['AWS endpoint id empty', v4(0x21, 0x11, Buffer.concat([addr, bytes(0xea, 0x00, 0x01, 0x01)]))],
    ['AWS endpoint id not printable', v4(0x21, 0x11, Buffer.concat([addr, bytes(0xea, 0x00, 0x03, 0x01, 'a', 0x00)]))],
    ['Azure LinkID of 3 octets', v4(0x21, 0x11, Buffer.concat([addr, bytes(0xee, 0x00, 0x04, 0x01, 1, 2, 3)]))],
    ['GCP id of 4 octets', v4(0x21, 0x11, Buffer.concat([addr, bytes(0xe0, 0x00, 0x04, 1, 2, 3, 4)]))],
  ]
  for (const [name, input] of cases) t.equal(read(input).kind, 'error', name)
})

t.test('v2: LOCAL and UNSPEC carry no addresses', async (t) => {
  const local = read(encodeProxyV2({ command: 'LOCAL', family: 'UNSPEC' }))
  t.match(local, { kind: 'header', header: { version: 2, command: 'LOCAL', family: 'UNSPEC', tlvs: [] } })
  const localWithBlock = read(Buffer.concat([SIG, bytes(0x20, 0x11, 0x00, 0x0c), Buffer.alloc(12)]))
  t.match(localWithBlock, { kind: 'header', header: { command: 'LOCAL' } }, 'LOCAL discards its address block')
  t.equal(localWithBlock.kind === 'header' && localWithBlock.header.source, undefined)
})

t.test('v2: refuses a length over the cap from the 16-octet prelude', async (t) => {
  const prelude = bytes(SIG, 0x21, 0x11, 0x08, 0x01) // length 2049
  t.match(read(prelude), { kind: 'error', detail: /exceeds 2048/ })
  t.equal(read(bytes(SIG, 0x21, 0x11, 0x00, 0x40), 32).kind, 'error', 'configurable cap')
  t.equal(read(bytes(SIG, 0x21, 0x11, 0x08, 0x00)).kind, 'need-more', '2048 is allowed')
})

t.test('no header: decided from the first octets that do not match', async (t) => {
  const cases: Array<[string, Buffer, number]> = [
    ['TLS ClientHello', CLIENT_HELLO, 1],
    ['MQTT CONNECT', bytes(0x10, 0x0c, 0x00, 0x04), 1],
    ['AMQP header', bytes('AMQP', 0, 0, 9, 1), 1],
    ['HTTP POST', bytes('POST / HTTP/1.1\r\n'), 2],
    ['CRLF then not the signature', bytes('\r\n\r\nX'), 5],
  ]
  for (const [name, input, decideAt] of cases) {
    const reader = new ProxyHeaderReader()
    let result: ProxyHeaderResult = { kind: 'need-more' }
    let pushed = 0
    while (result.kind === 'need-more' && pushed < input.length) {
      result = reader.push(input.subarray(pushed, pushed + 1))
      pushed += 1
    }
    t.equal(result.kind, 'none', name)
    t.equal(pushed, decideAt, `${name}: decided after ${decideAt} octet(s)`)
  }
  const whole = read(CLIENT_HELLO)
  t.same(whole.kind === 'none' && whole.rest, CLIENT_HELLO, 'rest is every octet received')
})

t.test('v1 encoder and IPv6 text forms', async (t) => {
  t.same(encodeProxyV1({ family: 'IPv4', source: { ip: '1.2.3.4', port: 5 }, destination: { ip: '6.7.8.9', port: 10 } }), bytes('PROXY TCP4 1.2.3.4 6.7.8.9 5 10\r\n'))
  t.same(encodeProxyV1({ family: 'UNSPEC' }), bytes('PROXY UNKNOWN\r\n'))
  const forms: Array<[string, string]> = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], // longest run wins
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // first run on a tie
    ['2001:db8:1:1:1:1:0:1', '2001:db8:1:1:1:1:0:1'], // a single zero group is not compressed
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'], // IPv4-mapped, as Node reports it
    ['::192.0.2.1', '::c000:201'],
  ]
  for (const [input, expected] of forms) t.equal(bytesToIPv6(ipv6ToBytes(input)), expected, input)
})
