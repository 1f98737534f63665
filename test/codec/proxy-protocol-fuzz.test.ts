import t from 'tap'
import { ProxyHeaderReader, awsVpceTlv, azureLinkIdTlv, encodeProxyV1, encodeProxyV2, gcpPscTlv } from '../../src/tunnel/proxy-protocol'
import type { ProxyHeaderResult } from '../../src/tunnel/proxy-protocol'
import { mutate, prng, randomBytes, randomChunks, randomInt } from './fixture-bytes'

const VALID = [
  encodeProxyV1({ family: 'IPv4', source: { ip: '192.0.2.1', port: 1234 }, destination: { ip: '198.51.100.1', port: 8883 } }),
  encodeProxyV1({ family: 'IPv6', source: { ip: '2001:db8::1', port: 1 }, destination: { ip: '2001:db8::2', port: 2 } }),
  encodeProxyV2({ source: { ip: '192.0.2.1', port: 1234 }, destination: { ip: '198.51.100.1', port: 8883 }, tlvs: [awsVpceTlv('vpce-0abc')] }),
  encodeProxyV2({ family: 'IPv6', source: { ip: '::1', port: 1 }, destination: { ip: '::2', port: 2 }, tlvs: [azureLinkIdTlv(7), gcpPscTlv(9n)] }),
  encodeProxyV2({ command: 'LOCAL', family: 'UNSPEC' }),
]
const KINDS = new Set(['need-more', 'none', 'header', 'error'])

t.test('never throws and never buffers past its cap on 30000 mutated or random inputs', async (t) => {
  const rand = prng(99)
  const counts: Record<string, number> = { 'need-more': 0, none: 0, header: 0, error: 0 }
  for (let i = 0; i < 30000; i += 1) {
    const base = VALID[i % VALID.length]!
    const input = i % 5 === 0 ? randomBytes(rand, randomInt(rand, 200)) : Buffer.concat([mutate(rand, base), randomBytes(rand, randomInt(rand, 8))])
    const maxV2Length = 16 + randomInt(rand, 100)
    try {
      const reader = new ProxyHeaderReader({ maxV2Length })
      let pushed = 0
      let result: ProxyHeaderResult = { kind: 'need-more' }
      for (const chunk of randomChunks(rand, input)) {
        result = reader.push(chunk)
        pushed += chunk.length
        if (!KINDS.has(result.kind)) t.fail(`unexpected ${JSON.stringify(result)}`)
        if (result.kind === 'need-more' && pushed >= Math.max(107, 16 + maxV2Length)) {
          t.fail(`need-more after ${pushed} octets: ${input.toString('hex')}`)
        }
        if (result.kind !== 'need-more') break
      }
      if ((result.kind === 'none' || result.kind === 'header') && !input.subarray(pushed - result.rest.length, pushed).equals(result.rest)) {
        t.fail(`rest is not the tail of the input: ${input.toString('hex')}`)
      }
      counts[result.kind]! += 1
    } catch (err) {
      t.fail(`threw on ${input.toString('hex')}: ${String(err)}`)
    }
  }
  t.ok(counts.header! > 0 && counts.error! > 0 && counts.none! > 0, `mix of outcomes ${JSON.stringify(counts)}`)
})
