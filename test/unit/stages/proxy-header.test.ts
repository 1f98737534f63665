import t from 'tap'
import { proxyHeader } from '../../../src/proxy/stages/proxy-header'
import { AddressSet, NetworkMap } from '../../../src/tunnel/cidr'
import { awsVpceTlv, encodeProxyV2 } from '../../../src/tunnel/proxy-protocol'
import { socketPair } from '../../helpers/socket-pair'
import { accepted, listenerConfig } from '../../helpers/contexts'

const LB = '10.0.0.5'
const deps = {
  networks: new NetworkMap([{ cidr: '192.0.2.0/24', vpcId: 'vpc-from-networks' }]),
  proxyTrust: () => AddressSet.parse(['10.0.0.0/8']),
}
const listener = listenerConfig({ proxyProtocol: { mode: 'required', trustedCidrs: ['10.0.0.0/8'] } })
const header = encodeProxyV2({
  source: { ip: '198.51.100.7', port: 51000 }, destination: { ip: '10.0.0.1', port: 8883 },
  tlvs: [awsVpceTlv('vpce-0abc')],
})

t.test('a trusted balancer\'s PROXY v2 header gives the real address and the VPC, and the rest goes back to TLS', async (t) => {
  const { gateway, peer } = socketPair()
  peer.write(Buffer.concat([header, Buffer.from([0x16, 0x03, 0x01])]))
  const step = await proxyHeader(accepted(gateway, { listener, source: { ip: LB, port: 3000 } }), deps)
  if (step.kind !== 'next') throw new Error(`refused: ${step.reason}`)
  t.equal(step.ctx.phase, 'proxied')
  t.same(step.ctx.source, { ip: '198.51.100.7', port: 51000, vpcId: 'vpce-0abc' })
  t.same(step.ctx.proxiedBy, { ip: LB, port: 3000 })
  t.same(step.ctx.vpc, { cloud: 'aws', kind: 'vpc-endpoint-id', id: 'vpce-0abc' })
  t.same(gateway.read(), Buffer.from([0x16, 0x03, 0x01]), 'the ClientHello bytes are readable again')
})

t.test('a PROXY header from outside trustedCidrs is refused, whatever it claims', async (t) => {
  const { gateway, peer } = socketPair()
  peer.write(header)
  const step = await proxyHeader(accepted(gateway, { listener, source: { ip: '203.0.113.9', port: 3000 } }), deps)
  t.equal(step.kind, 'reject')
  if (step.kind === 'reject') t.equal(step.reason, 'PROXY_HEADER_UNTRUSTED')
})

t.test('required mode refuses a connection that starts without a header', async (t) => {
  const { gateway, peer } = socketPair()
  peer.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b]))
  const step = await proxyHeader(accepted(gateway, { listener, source: { ip: LB, port: 3000 } }), deps)
  t.equal(step.kind === 'reject' ? step.reason : step.kind, 'PROXY_HEADER_INVALID')
})

t.test('without PROXY protocol the networks map names the VPC of the socket address', async (t) => {
  const { gateway } = socketPair()
  const step = await proxyHeader(accepted(gateway), deps)
  if (step.kind !== 'next') throw new Error('refused')
  t.equal(step.ctx.source.vpcId, 'vpc-from-networks')
  t.equal(step.ctx.proxiedBy, undefined)
})
