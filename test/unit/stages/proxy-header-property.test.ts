import t from 'tap'
import fc from 'fast-check'
import { bytes } from '../../helpers/arbitraries'
import assert from 'node:assert/strict'
import { proxyHeader } from '../../../src/proxy/stages/proxy-header'
import { ClientGone } from '../../../src/proxy/read-client'
import { REFUSAL_REASONS } from '../../../src/reasons'
import { AddressSet, NetworkMap } from '../../../src/tunnel/cidr'
import { ProxyHeaderReader, awsVpceTlv, encodeProxyV1, encodeProxyV2 } from '../../../src/tunnel/proxy-protocol'
import { V2_SIGNATURE } from '../../../src/tunnel/proxy-protocol-v2'
import { socketPair, splitAt, writeChunks } from '../../helpers/socket-pair'
import { accepted, deadline, listenerConfig, settle, unhandledRejections } from '../../helpers/contexts'

/**
 * The proxy-header stage over an in-memory socket pair, for arbitrary client bytes, chunkings and
 * early closes, in every `proxyProtocol.mode`, from trusted and untrusted sources: it answers the
 * proxied phase or a PROXY_HEADER_* refusal (or, when the client went away or the deadline passed,
 * the ClientGone the runner turns into a refusal) within the deadline; it writes nothing; it only
 * admits a header from a trusted balancer; and every byte after the header is readable again by TLS.
 */
const RUNS = 150
const DEADLINE_MS = 30
/** The deadline plus scheduling slack on a loaded 2-core machine. */
const SETTLED_BY_MS = DEADLINE_MS + 1500

const deps = {
  networks: new NetworkMap([{ cidr: '198.51.100.0/24', vpcId: 'vpc-from-networks' }]),
  proxyTrust: () => AddressSet.parse(['10.0.0.0/8']),
}

const port = fc.integer({ min: 0, max: 0xffff })
const header = fc.oneof(
  fc.record({ s: fc.ipV4(), d: fc.ipV4(), sp: port, dp: port, vpce: fc.option(fc.stringMatching(/^vpce-[a-z0-9]{1,17}$/), { nil: undefined }) })
    .map((h) => encodeProxyV2({ source: { ip: h.s, port: h.sp }, destination: { ip: h.d, port: h.dp }, ...(h.vpce !== undefined ? { tlvs: [awsVpceTlv(h.vpce)] } : {}) })),
  fc.record({ s: fc.ipV6(), d: fc.ipV6(), sp: port, dp: port }).map((h) => encodeProxyV1({ family: 'IPv6', source: { ip: h.s, port: h.sp }, destination: { ip: h.d, port: h.dp } })),
  fc.constant(encodeProxyV2({ command: 'LOCAL', family: 'UNSPEC' })),
)
const flipped = fc.tuple(header, fc.nat(), fc.integer({ min: 0, max: 255 })).map(([h, at, v]) => {
  const copy = Buffer.from(h)
  copy[at % copy.length] = v
  return copy
})
const clientBytes = fc.tuple(
  fc.oneof(bytes(60), bytes(40).map((b) => Buffer.concat([V2_SIGNATURE, b])), header, flipped, fc.constant(Buffer.from([0x16, 0x03, 0x01]))),
  bytes(12),
).map(([a, b]) => Buffer.concat([a, b]))

const scenario = fc.record({
  input: clientBytes,
  cuts: fc.array(fc.nat(), { maxLength: 8 }),
  close: fc.boolean(),
  mode: fc.constantFrom('off' as const, 'optional' as const, 'required' as const),
  sourceIp: fc.constantFrom('10.0.0.5', '203.0.113.9', '198.51.100.20'),
})

t.test('answers the proxied phase or a PROXY_HEADER_* refusal within the deadline, writes nothing, hands every later byte to TLS', async (t) => {
  const rejections = unhandledRejections()
  t.teardown(rejections.stop)
  const seen = new Set<string>()
  await fc.assert(fc.asyncProperty(scenario, async ({ input, cuts, close, mode, sourceIp }) => {
    const { gateway, peer, written } = socketPair()
    const clock = deadline(DEADLINE_MS)
    const listener = listenerConfig({ proxyProtocol: { mode, trustedCidrs: ['10.0.0.0/8'] } })
    const ctx = accepted(gateway, { listener, signal: clock.signal, source: { ip: sourceIp, port: 3000 } })
    const writing = writeChunks(peer, splitAt(input, cuts), close)
    const out = await settle(() => proxyHeader(ctx, deps))
    await writing
    clock.clear()
    assert.ok(out.ms < SETTLED_BY_MS, `settled after ${out.ms} ms`)
    assert.equal(written().length, 0, 'the stage writes nothing to the client')
    const trusted = sourceIp.startsWith('10.')
    const expected = new ProxyHeaderReader().push(input)
    if (out.error !== undefined) {
      assert.ok(out.error instanceof ClientGone, `threw ${String(out.error)}`)
      assert.notEqual(mode, 'off', 'mode off reads nothing, so waits for nothing')
      seen.add(`gone:${out.error.why}`)
      return
    }
    const step = out.step!
    if (step.kind === 'reject') {
      assert.ok(REFUSAL_REASONS.includes(step.reason))
      assert.ok(step.reason === 'PROXY_HEADER_INVALID' || step.reason === 'PROXY_HEADER_UNTRUSTED', step.reason)
      if (!trusted && expected.kind !== 'none') assert.equal(step.reason, 'PROXY_HEADER_UNTRUSTED', 'an untrusted source never learns more')
      if (step.reason === 'PROXY_HEADER_INVALID' && expected.kind === 'none') assert.equal(mode, 'required')
      seen.add(step.reason)
      return
    }
    seen.add(`next:${mode}`)
    assert.equal(step.ctx.phase, 'proxied')
    // Every byte after the header (all of them without one) is readable again, in order.
    const rest: Buffer[] = []
    for (let chunk = gateway.read() as Buffer | null; chunk !== null; chunk = gateway.read() as Buffer | null) rest.push(chunk)
    if (mode === 'off') {
      assert.equal(step.ctx.proxiedBy, undefined)
      assert.deepEqual(Buffer.concat(rest), input)
      return
    }
    assert.ok(expected.kind === 'header' || expected.kind === 'none', `admitted on ${expected.kind}`)
    if (expected.kind === 'header') {
      assert.ok(trusted, 'a header is only taken from a trusted balancer')
      assert.deepEqual(step.ctx.proxiedBy, { ip: sourceIp, port: 3000 })
      if (expected.header.command === 'PROXY' && expected.header.source !== undefined) assert.equal(step.ctx.source.ip, expected.header.source.ip)
      if (expected.header.vpc !== undefined) assert.equal(step.ctx.source.vpcId, expected.header.vpc.id)
    } else {
      assert.equal(mode, 'optional')
      assert.equal(step.ctx.source.ip, sourceIp)
    }
    assert.deepEqual(Buffer.concat(rest), expected.rest)
  }), { numRuns: RUNS })
  t.equal(rejections.count(), 0, 'no unhandled rejection')
  t.ok(seen.has('next:optional') && seen.has('PROXY_HEADER_UNTRUSTED') && seen.has('PROXY_HEADER_INVALID'), `outcomes ${[...seen].join(', ')}`)
})
