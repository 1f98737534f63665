import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deleteRedisKeys, serviceAvailable } from '../helpers/services'
import { startTestGateway, unique, type TestGatewayOptions } from '../helpers/gateway'
import { fixtureFor, mqttFixture } from '../helpers/mqtt-fixture'

for (const kind of ['embedded', 'redis'] as const) {
  t.test(`a gateway restart keeps every registration (${kind} store)`, async (t) => {
    if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
    if (kind === 'redis' && !(await serviceAvailable(t, 'redis', 6379))) return
    const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-restart-'))
    const certsDir = mkdtempSync(join(tmpdir(), 'portcullis-restart-certs-'))
    const redisPrefix = `portcullis-test:${unique('restart')}:`
    t.teardown(async () => {
      rmSync(dataDir, { recursive: true, force: true })
      rmSync(certsDir, { recursive: true, force: true })
      if (kind === 'redis') {
        await deleteRedisKeys(redisPrefix)
      }
    })
    const options: TestGatewayOptions = { dataDir, certsDir, ...(kind === 'redis' ? { redisPrefix } : {}) }

    const first = await startTestGateway(t, options)
    const fx = await mqttFixture(first)
    const device = await fx.device('survivor')
    const client = await fx.connect(device)
    await client.endAsync()
    const revoked = await fx.device('stays-revoked')
    await (await fx.connect(revoked)).endAsync()
    const devices = (await first.admin('GET', `/v1/instances/${fx.instanceId}/devices`)).body.items
    const revokedId = devices.find((d: { subject: string }) => d.subject.includes('stays-revoked')).id
    t.equal((await first.admin('POST', `/v1/instances/${fx.instanceId}/devices/${revokedId}/revoke`)).status, 200)
    const casBefore = (await first.admin('GET', `/v1/instances/${fx.instanceId}/cas`)).body.items
    await first.stop()

    const second = await startTestGateway(t, options)
    t.equal(second.gateway.rootAccessKey.accessKeyId, first.gateway.rootAccessKey.accessKeyId, 'same root AccessKey')
    const instance = await second.admin('GET', `/v1/instances/${fx.instanceId}`)
    t.equal(instance.status, 200, 'instance survives')
    const casAfter = (await second.admin('GET', `/v1/instances/${fx.instanceId}/cas`)).body.items
    t.same(casAfter, casBefore, 'CA registrations survive')
    const devicesAfter = (await second.admin('GET', `/v1/instances/${fx.instanceId}/devices`)).body.items
    t.equal(devicesAfter.length, 2, 'device records survive')
    t.equal(devicesAfter.find((d: { id: string }) => d.id === revokedId).status, 'REVOKED', 'REVOKED survives')

    const fx2 = fixtureFor(second, fx)
    const again = await fx2.connect(device)
    t.ok(again.connected, 'the device connects through the restarted gateway')
    await again.endAsync()
    await t.rejects(fx2.connect(revoked), 'the revoked device is still refused')
  })
}
