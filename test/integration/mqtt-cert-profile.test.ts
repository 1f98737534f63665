/**
 * Issue 10 end to end: mqtt.js over real TLS through a real gateway to Mosquitto, with client
 * certificates that break the client profile (EKU, weak keys, weak signatures), CAs with name
 * constraints (critical and not), and a chain through a presented intermediate.
 */
import t from 'tap'
import { serviceAvailable, type Test } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'
import { createCa, createLeaf, type CreateLeafOptions, type KeyAndCert } from '../../src/ca/pki'

/** MQTT 3.1.1 CONNACK return code 5 and MQTT 5 reason code 0x87: Not authorized. */
const NOT_AUTHORIZED = { 4: 5, 5: 0x87 } as const
/** Lets the client load what OpenSSL's default level refuses to send (SHA-1, RSA-1024): the gateway must refuse it, not the client. */
const WEAK_CLIENT = { ciphers: 'DEFAULT@SECLEVEL=0' }

async function refusedWith(
  t: Test, tg: TestGateway, fx: MqttFixture, cert: KeyAndCert, reason: string, protocolVersion: 4 | 5 = 5,
): Promise<void> {
  const clientId = unique('refused')
  const err = await fx.connect(cert, { protocolVersion, clientId, ...WEAK_CLIENT }).then(
    (client) => { client.end(true); return new Error('connected, expected a refusal') },
    (e: Error & { code?: number }) => e,
  )
  t.equal((err as { code?: number }).code, NOT_AUTHORIZED[protocolVersion], `CONNACK says not authorized (${err.message})`)
  const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.actor.clientId === clientId)
  t.equal(event.reason, reason, `audit reason ${reason}`)
}

async function admitted(t: Test, fx: MqttFixture, cert: KeyAndCert, what: string): Promise<void> {
  const client = await fx.connect(cert, { protocolVersion: 5, ...WEAK_CLIENT })
  t.ok(client.connected, what)
  await client.endAsync()
}

function leaf(issuer: KeyAndCert, opts: Partial<CreateLeafOptions> = {}): Promise<KeyAndCert> {
  return createLeaf({ commonName: unique('dev'), issuer, kind: 'client', ...opts })
}

t.test('client certificate profile and RFC 5280 path validation on the data path', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t, { handshakeTimeoutMs: 5000 })
  const fx = await mqttFixture(tg)

  t.test('EKU: serverAuth-only and codeSigning-only are refused CLIENT_CERT_PROFILE, clientAuth is admitted', async (t) => {
    await refusedWith(t, tg, fx, await leaf(fx.ca, { eku: ['serverAuth'] }), 'CLIENT_CERT_PROFILE', 5)
    await refusedWith(t, tg, fx, await leaf(fx.ca, { eku: ['serverAuth'] }), 'CLIENT_CERT_PROFILE', 4)
    await refusedWith(t, tg, fx, await leaf(fx.ca, { eku: ['codeSigning'] }), 'CLIENT_CERT_PROFILE')
    await admitted(t, fx, await leaf(fx.ca, { eku: ['clientAuth'] }), 'clientAuth')
    await admitted(t, fx, await leaf(fx.ca, { eku: ['serverAuth', 'clientAuth'] }), 'serverAuth + clientAuth')
    await admitted(t, fx, await leaf(fx.ca, { eku: false }), 'no EKU extension')
  })

  for (const critical of [true, false]) {
    t.test(`a CA with ${critical ? 'critical' : 'non-critical'} name constraints registers and its constraints are enforced`, async (t) => {
      const nc = await createCa({ commonName: unique('nc-ca'), nameConstraints: { permittedDns: ['allowed.example'], critical } })
      const reg = await fx.registerCa(nc)
      t.equal(reg.status, 201, `registered (${JSON.stringify(reg.body)})`)
      await admitted(t, fx, await leaf(nc, { dnsNames: ['dev1.allowed.example'] }), 'SAN under allowed.example')
      await refusedWith(t, tg, fx, await leaf(nc, { dnsNames: ['evil.example'] }), 'CLIENT_CERT_UNTRUSTED')
      // A registered root's constraints also bind what a presented intermediate under it issues.
      const inter = await createCa({ commonName: unique('nc-inter'), issuer: nc })
      const evil = await leaf(inter, { dnsNames: ['evil.example'] })
      await refusedWith(t, tg, fx, { cert: evil.cert + inter.cert, key: evil.key }, 'CLIENT_CERT_UNTRUSTED')
    })
  }

  t.test('a leaf presented with its unregistered intermediate under a registered root is admitted', async (t) => {
    const inter = await createCa({ commonName: unique('inter'), issuer: fx.ca })
    const device = await leaf(inter)
    await admitted(t, fx, { cert: device.cert + inter.cert, key: device.key }, 'leaf + intermediate')
    await admitted(t, fx, { cert: device.cert + inter.cert, key: device.key }, 'and again on reconnect (cached)')
    await refusedWith(t, tg, fx, await leaf(inter), 'CLIENT_CERT_UNTRUSTED') // without the intermediate
  })

  t.test('an RSA-1024 leaf and a SHA-1-signed leaf are refused CLIENT_CERT_PROFILE', async (t) => {
    await refusedWith(t, tg, fx, await leaf(fx.ca, { keyKind: 'rsa1024' }), 'CLIENT_CERT_PROFILE')
    await refusedWith(t, tg, fx, await leaf(fx.ca, { signatureHash: 'SHA-1' }), 'CLIENT_CERT_PROFILE')
    await admitted(t, fx, await leaf(fx.ca, { keyKind: 'rsa2048' }), 'RSA-2048 is fine')
  })
})
