import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import type { Test } from 'tap'
import { createLeaf } from '../../src/ca/pki'
import { amqpFixture } from '../helpers/amqp-fixture'
import { runCli, type CliRun } from '../helpers/cli-harness'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'

/**
 * `portcullis explain` end to end: a real gateway (embedded MQTT broker, so no service needed),
 * a CA registered through the registration-code flow, real device certificates and AccessKey
 * credentials. Where the data path can be asked too (a real MQTT connection, an AMQP login
 * refused before any broker is reached), its verdict is compared with explain's.
 */
function cli(tg: TestGateway): (argv: string[]) => Promise<CliRun> {
  const env = { PORTCULLIS_ADMIN_URL: tg.gateway.adminUrl, PORTCULLIS_ACCESS_KEY_ID: tg.gateway.rootAccessKey.accessKeyId, PORTCULLIS_ACCESS_KEY_SECRET: tg.gateway.rootAccessKey.accessKeySecret }
  return (argv) => runCli(argv, env, tg.dataDir)
}

/** The data path's own verdict on a real connection: admitted, or the reason it was rejected with. */
async function dataPathVerdict(tg: TestGateway, fx: MqttFixture, device: { cert: string; key: string }, clientId: string): Promise<string> {
  const since = tg.events().length
  try {
    const client = await fx.connect(device, { clientId })
    client.end(true)
    return 'admitted'
  } catch {
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && tg.events().indexOf(e) >= since)
    return String(event.reason)
  }
}

async function setUp(t: Test): Promise<{ tg: TestGateway; fx: MqttFixture; run: (argv: string[]) => Promise<CliRun> }> {
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg, { backend: 'embedded' })
  return { tg, fx, run: cli(tg) }
}

t.test('an MQTT device: admitted, then refused DEVICE_CERT_REVOKED once revoked, as the data path decides', async (t) => {
  const { tg, fx, run } = await setUp(t)
  const device = await fx.device('explained-device')
  await writeFile(join(tg.dataDir, 'device.pem'), device.cert)
  const clientId = unique('client')

  const first = await run(['explain', '--instance', fx.instanceId, '--cert', 'device.pem', '--client-id', clientId])
  t.equal(first.code, 0, first.err)
  const admitted = first.json()
  t.match(admitted, { admitted: true, reason: null })
  t.match(admitted.decidedBy, /client-certificate: chains to ACTIVE CA .*; device-certificate: device [0-9a-f]{64} is not registered yet: its first connection registers it ACTIVE/)
  t.same(admitted.checks.map((c: { check: string }) => c.check), ['blacklist-address', 'tls', 'tunnel', 'fresh-state', 'client-certificate', 'device-certificate', 'mqtt-authorize-connect', 'blacklist', 'upstream'])
  t.same((await tg.admin('GET', `/v1/instances/${fx.instanceId}/devices`)).body.items, [], 'explain registers no device')
  t.equal(await dataPathVerdict(tg, fx, device, clientId), 'admitted', 'and the gateway admits it')

  const registered = (await tg.admin('GET', `/v1/instances/${fx.instanceId}/devices`)).body.items[0]
  t.equal((await run(['device', 'revoke', '--instance', fx.instanceId, registered.id, '--yes'])).code, 0)
  const revoked = await run(['explain', '--instance', fx.instanceId, '--cert', 'device.pem', '--client-id', clientId])
  t.equal(revoked.code, 1, 'a refused client exits 1')
  t.match(revoked.json(), { admitted: false, reason: 'DEVICE_CERT_REVOKED', decidedBy: `device-certificate: device ${registered.id} is REVOKED` })
  t.match(revoked.err, /^portcullis: would be refused DEVICE_CERT_REVOKED: device-certificate: device [0-9a-f]{64} is REVOKED/)
  t.equal(await dataPathVerdict(tg, fx, device, clientId), 'DEVICE_CERT_REVOKED', 'the gateway refuses it with the same reason')

  const table = await run(['explain', '--instance', fx.instanceId, '--cert', 'device.pem', '--output', 'table'])
  t.match(table.out, /^refused DEVICE_CERT_REVOKED: device-certificate: device [0-9a-f]{64} is REVOKED/)
  t.match(table.out, /^device-certificate +fail +DEVICE_CERT_REVOKED: device /m)
  t.match(table.out, /^client-certificate +pass +chains to ACTIVE CA /m)
})

t.test('a blacklisted device is refused BLACKLISTED, naming the entry, as the data path decides', async (t) => {
  const { tg, fx, run } = await setUp(t)
  const device = await fx.device('listed-device')
  await writeFile(join(tg.dataDir, 'listed.pem'), device.cert)
  const clientId = unique('banned')
  const entry = (await run(['blacklist', 'add', '--kind', 'clientId', '--value', clientId, '--instance', fx.instanceId, '--reason', 'flooding'])).json()
  const res = await run(['explain', '--instance', fx.instanceId, '--cert', 'listed.pem', '--client-id', clientId, '--source-ip', '127.0.0.1'])
  t.equal(res.code, 1)
  const answer = res.json()
  t.match(answer, { admitted: false, reason: 'BLACKLISTED' })
  t.equal(answer.decidedBy, `blacklist: blacklist entry ${entry.id} (clientId ${clientId}, instance ${fx.instanceId}, reason: flooding)`)
  t.match(answer.checks.find((c: { check: string }) => c.check === 'blacklist-address'), { result: 'pass' }, 'the address alone is not listed')
  t.match(answer.checks.find((c: { check: string }) => c.check === 'device-certificate'), { result: 'pass' }, 'the certificate is fine: the blacklist decides')
  t.equal(await dataPathVerdict(tg, fx, device, clientId), 'BLACKLISTED')
  const otherClient = await run(['explain', '--instance', fx.instanceId, '--cert', 'listed.pem', '--client-id', unique('fine')])
  t.equal(otherClient.json().admitted, true, 'another clientId with the same certificate is admitted')
})

t.test('a certificate from a CA the instance does not know is refused CLIENT_CERT_UNTRUSTED', async (t) => {
  const { tg, fx, run } = await setUp(t)
  const { createCa } = await import('../../src/ca/pki')
  const stranger = await createLeaf({ commonName: 'stranger', issuer: await createCa({ commonName: 'Other CA' }), kind: 'client' })
  await writeFile(join(tg.dataDir, 'stranger.pem'), stranger.cert)
  const res = await run(['explain', '--instance', fx.instanceId, '--cert', 'stranger.pem'])
  t.match(res.json(), { admitted: false, reason: 'CLIENT_CERT_UNTRUSTED' })
  t.match(res.json().decidedBy, /^client-certificate: no path to a CA registered on the instance \(leaf CN=stranger, issued by CN=Other CA\)/)
  t.equal(await dataPathVerdict(tg, fx, stranger, unique('c')), 'CLIENT_CERT_UNTRUSTED')
  const unknown = await run(['explain', '--instance', 'no-such-instance', '--cert', 'stranger.pem'])
  t.match(unknown.json(), { admitted: false, reason: 'UNKNOWN_INSTANCE', decidedBy: 'tls: no instance no-such-instance' })
})

t.test('the tunnel rule and an enforced mqtt:Connect decide, naming the rule', async (t) => {
  const { tg, fx, run } = await setUp(t)
  const device = await fx.device('ruled-device')
  await writeFile(join(tg.dataDir, 'ruled.pem'), device.cert)
  t.equal((await run(['instance', 'update', fx.instanceId, '--access-type', 'SINGLE_TUNNEL', '--vpc-id', 'vpc-7'])).code, 0)
  const outside = await run(['explain', '--instance', fx.instanceId, '--cert', 'ruled.pem', '--client-id', 'c1'])
  t.match(outside.json(), { admitted: false, reason: 'TUNNEL_DENIED', decidedBy: `tunnel: instance ${fx.instanceId} admits only VPC vpc-7; connection from a public network` })
  t.equal(await dataPathVerdict(tg, fx, device, 'c1'), 'TUNNEL_DENIED', 'the gateway refuses a public client too')
  const inside = await run(['explain', '--instance', fx.instanceId, '--cert', 'ruled.pem', '--client-id', 'c1', '--vpc-id', 'vpc-7'])
  t.equal(inside.json().admitted, true, inside.out)

  t.equal((await run(['instance', 'update', fx.instanceId, '--access-type', 'ANY_TUNNEL', '--authorization', 'enforce'])).code, 0)
  const denied = await run(['explain', '--instance', fx.instanceId, '--cert', 'ruled.pem', '--client-id', 'c1'])
  t.match(denied.json(), { admitted: false, reason: 'NOT_AUTHORIZED', decidedBy: 'mqtt-authorize-connect: mqtt:Connect on clientId "c1" is not allowed (no statement allows it)' })
  const undecided = await run(['explain', '--instance', fx.instanceId, '--cert', 'ruled.pem'])
  t.match(undecided.json(), { admitted: false, reason: null, decidedBy: /^undecided, mqtt-authorize-connect: the instance enforces mqtt:Connect; the clientId decides/ })
  await writeFile(join(tg.dataDir, 'connect.json'), JSON.stringify({ statements: [{ effect: 'Allow', actions: ['mqtt:Connect'], resources: [`mqtt:${fx.instanceId}:client/c1`] }] }))
  t.equal((await run(['policy', 'put', 'connect-c1', '-f', 'connect.json'])).code, 0)
  t.equal((await run(['policy', 'attach', 'connect-c1', `instance:${fx.instanceId}`])).code, 0)
  const allowed = await run(['explain', '--instance', fx.instanceId, '--cert', 'ruled.pem', '--client-id', 'c1'])
  t.match(allowed.json(), { admitted: true, decidedBy: /mqtt-authorize-connect: mqtt:Connect on clientId "c1" allowed \(policy connect-c1, statement 0\)/ })
  const metrics = await fetch(`${tg.gateway.adminUrl}/metrics`).then((r) => r.text())
  t.notMatch(metrics, /portcullis_authorization_decisions_total\{[^}]*protocol="mqtt"[^}]*\} [1-9]/, 'explain decides without counting data-path decisions')
})

t.test('AMQP: a real AccessKey login is admitted, a wrong password refused BAD_CREDENTIALS and never echoed', async (t) => {
  const tg = await startTestGateway(t)
  const run = cli(tg)
  const fx = await amqpFixture(tg)
  const good = fx.dynamicCredentials()
  const ok = await run(['explain', '--instance', fx.instanceId, '--username', good.userName, '--password', good.password])
  t.equal(ok.code, 0, ok.err)
  t.match(ok.json(), { admitted: true, reason: null, decidedBy: new RegExp(`amqp-authenticate: dynamic login of AccessKey ${fx.accessKeyId}; amqp-authorize-connect: instance ${fx.instanceId} does not enforce authorization`) })
  t.notOk(ok.out.includes(good.password), 'the password is not in the answer')

  const bad = fx.dynamicCredentials({ secret: 'not-the-secret' })
  const refused = await run(['explain', '--instance', fx.instanceId, '--username', bad.userName, '--password', bad.password])
  t.equal(refused.code, 1)
  t.match(refused.json(), { admitted: false, reason: 'BAD_CREDENTIALS', decidedBy: `amqp-authenticate: password signature does not match AccessKey ${fx.accessKeyId}` })
  t.notOk(refused.out.includes(bad.password) || refused.err.includes(bad.password), 'nor in the refusal')
  t.same(tg.events().filter((e) => JSON.stringify(e).includes(bad.password)), [], 'nor in any audit event')

  // The data path agrees: the same login over a real AMQP connection is refused BAD_CREDENTIALS
  // by the gateway before any broker is reached.
  const since = tg.events().length
  await fx.connect(bad).then((c) => c.close(), () => undefined)
  const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.protocol === 'amqp' && tg.events().indexOf(e) >= since)
  t.equal(event.reason, 'BAD_CREDENTIALS')

  const key = fx.accessKeyId
  t.equal((await run(['blacklist', 'add', '--kind', 'accessKey', '--value', key])).code, 0)
  const listed = await run(['explain', '--instance', fx.instanceId, '--username', good.userName, '--password', good.password])
  t.match(listed.json(), { admitted: false, reason: 'BLACKLISTED', decidedBy: new RegExp(`^blacklist: blacklist entry bl-[0-9a-f]+ \\(accessKey ${key}, global\\)`) })
})

t.test('explain refuses what it cannot explain, with usage errors', async (t) => {
  const tg = await startTestGateway(t)
  const run = cli(tg)
  t.match((await run(['explain', '--instance', 'x'])).err, /^USAGE: give --cert CHAIN\.pem \(MQTT\) or --username U --password P \(AMQP\)/)
  t.match((await run(['explain', '--cert', 'x.pem'])).err, /^USAGE: --instance is required/)
  t.match((await run(['explain', '--instance', 'x', '--password', 'p'])).err, /^USAGE: --password needs --username/)
  await writeFile(join(tg.dataDir, 'junk.pem'), 'not a certificate')
  t.match((await run(['explain', '--instance', 'x', '--cert', 'junk.pem'])).err, /^CERT_INVALID: certificate holds no PEM certificate/)
  t.match((await run(['explain', '--instance', 'x', '--cert', 'junk.pem', '--source-ip', 'nope'])).err, /^VALIDATION_FAILED: .*sourceIp must be an IPv4 or IPv6 address/)
})
