import t from 'tap'
import { serviceAvailable, type Test } from '../helpers/services'
import { startTestGateway, type TestGateway } from '../helpers/gateway'
import { closed, mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'
import { amqpFixture } from '../helpers/amqp-fixture'
import { connectProxied } from '../helpers/proxied'
import {
  aliyunTlv, awsVpceTlv, azureLinkIdTlv, encodeProxyV1, encodeProxyV2, gcpPscTlv, type ProxyTlv,
} from '../../src/tunnel/proxy-protocol'

const SOURCE = { ip: '203.0.113.7', port: 40_000 }
const DEST = { ip: '192.0.2.1', port: 8883 }
const v2 = (tlvs: ProxyTlv[] = [], source = SOURCE): Buffer => encodeProxyV2({ command: 'PROXY', family: 'IPv4', source, destination: DEST, tlvs })

async function accepted(tg: TestGateway, clientId: string) {
  return tg.waitForEvent((e) => e.type === 'connection.accepted' && e.actor.clientId === clientId)
}

t.test('PROXY protocol, VPC identity and Any/Single Tunnel', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t, {
    config: {
      listeners: [
        { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, proxyProtocol: { mode: 'optional', trustedCidrs: ['127.0.0.1/32', '::1/128'] } },
        { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 },
        { name: 'untrusted', protocol: 'mqtt', host: '127.0.0.1', port: 0, proxyProtocol: { mode: 'optional', trustedCidrs: ['10.0.0.0/8'] } },
        { name: 'required', protocol: 'mqtt', host: '127.0.0.1', port: 0, proxyProtocol: { mode: 'required', trustedCidrs: ['127.0.0.1/32'] } },
      ],
      networks: [{ cidr: '198.51.100.0/24', vpcId: 'vpc-from-networks-map' }],
    },
  })
  const fx = await mqttFixture(tg)
  const port = (name: string): number => tg.gateway.listenerAddress(name).port
  const via = async (f: MqttFixture, header: Buffer, listener = 'mqtts', protocolVersion: 4 | 5 = 4) =>
    connectProxied({ port: port(listener), header, servername: f.hostname, serverCa: f.serverCa, cert: await f.device(), protocolVersion })

  t.test('PROXY v1 from a trusted balancer: the real client address is audited', async (t) => {
    const client = await via(fx, encodeProxyV1({ family: 'IPv4', source: SOURCE, destination: DEST }))
    const event = await accepted(tg, client.options.clientId as string)
    t.same(event.source, { ip: SOURCE.ip, port: SOURCE.port }, 'source is the client, not the balancer')
    t.equal(event.details.proxiedBy, '127.0.0.1', 'the balancer is recorded too')
    await client.endAsync()
  })

  for (const [cloud, tlv, vpcId] of [
    ['AWS (0xEA, VPC endpoint id)', awsVpceTlv('vpce-0a1b2c3d4e5f'), 'vpce-0a1b2c3d4e5f'],
    ['Azure (0xEE, LinkID uint32 LE)', azureLinkIdTlv(0x12345678), String(0x12345678)],
    ['GCP (0xE0, PSC connection id)', gcpPscTlv(9_007_199_254_740_993n), '9007199254740993'],
    ['Aliyun (0xE1, VPC id)', aliyunTlv('vpc-id', 'vpc-bp1abc'), 'vpc-bp1abc'],
  ] as const) {
    t.test(`PROXY v2 with the ${cloud} TLV gives the VPC identity`, async (t) => {
      const client = await via(fx, v2([tlv]))
      const event = await accepted(tg, client.options.clientId as string)
      t.equal(event.source?.vpcId, vpcId)
      t.equal(event.source?.ip, SOURCE.ip)
      await client.endAsync()
    })
  }

  t.test('without a VPC TLV, the networks map names the VPC', async (t) => {
    const client = await via(fx, v2([], { ip: '198.51.100.9', port: 1234 }))
    const event = await accepted(tg, client.options.clientId as string)
    t.equal(event.source?.vpcId, 'vpc-from-networks-map')
    await client.endAsync()
  })

  const refusedAt = async (t: Test, listener: string, header: Buffer, reason: string) => {
    const since = tg.events().length
    await t.rejects(via(fx, header, listener), `refused (${reason})`)
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && tg.events().indexOf(e) >= since)
    t.equal(event.reason, reason)
  }

  t.test('a header from a source outside trustedCidrs is refused', (t) => refusedAt(t, 'untrusted', v2([aliyunTlv('vpc-id', 'vpc-forged')]), 'PROXY_HEADER_UNTRUSTED'))
  t.test('a malformed header is refused', (t) => refusedAt(t, 'mqtts', Buffer.from('PROXY TCP4 not-an-address 1.2.3.4 1 2\r\n'), 'PROXY_HEADER_INVALID'))
  t.test('mode required refuses a connection without a header', (t) => refusedAt(t, 'required', Buffer.alloc(0), 'PROXY_HEADER_INVALID'))

  t.test('Single Tunnel admits the bound VPC only', async (t) => {
    const single = await mqttFixture(tg)
    t.equal((await tg.admin('PATCH', `/v1/instances/${single.instanceId}`, { accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-bound' })).status, 200)
    const inside = await via(single, v2([aliyunTlv('vpc-id', 'vpc-bound')]))
    t.ok(inside.connected, 'the bound VPC gets in')
    await inside.endAsync()
    for (const [who, header] of [['another VPC', v2([aliyunTlv('vpc-id', 'vpc-other')])], ['a public client', Buffer.alloc(0)]] as const) {
      const since = tg.events().length
      await t.rejects(via(single, header), `${who} is refused`)
      const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && tg.events().indexOf(e) >= since)
      t.equal(event.reason, 'TUNNEL_DENIED', `${who}: TUNNEL_DENIED`)
      t.equal(event.instanceId, single.instanceId)
    }
  })

  t.test('switching the access type or the bound VPC closes exactly the sessions the new rule refuses', async (t) => {
    const inst = await mqttFixture(tg)
    const a = await via(inst, v2([awsVpceTlv('vpce-aaaa')]))
    const b = await via(inst, v2([awsVpceTlv('vpce-bbbb')]))
    const bystander = await fx.connect(await fx.device())
    t.equal((await tg.admin('PATCH', `/v1/instances/${inst.instanceId}`, { accessType: 'SINGLE_TUNNEL', vpcId: 'vpce-aaaa' })).status, 200)
    await closed(b, 1000)
    t.ok(a.connected, 'the bound VPC stays')
    const kick = await tg.waitForEvent((e) => e.type === 'session.kicked' && e.instanceId === inst.instanceId)
    t.equal(kick.reason, 'TUNNEL_POLICY_CHANGED')
    t.equal((await tg.admin('PATCH', `/v1/instances/${inst.instanceId}`, { vpcId: 'vpce-bbbb' })).status, 200)
    await closed(a, 1000)
    t.ok(bystander.connected, 'another instance is untouched')
    await bystander.endAsync()
  })

  t.test('an AMQP client of a Single Tunnel instance is refused without and with SNI', async (t) => {
    if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
    const amqp = await amqpFixture(tg)
    t.equal((await tg.admin('PATCH', `/v1/instances/${amqp.instanceId}`, { accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-x' })).status, 200)
    const noSni = await amqp.connect(amqp.dynamicCredentials(), { servername: false }).then(() => undefined, (e: Error) => e)
    t.match(noSni?.message, 'ACCESS_REFUSED - TUNNEL_DENIED', 'refused after the userName names the instance')
    const withSni = await amqp.connect(amqp.dynamicCredentials()).then(() => undefined, (e: Error) => e)
    t.ok(withSni, 'refused in the TLS handshake')
  })
})
