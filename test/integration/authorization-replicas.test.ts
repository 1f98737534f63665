import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { deleteRedisKeys, serviceAvailable } from '../helpers/services'
import { unique, type TestGateway } from '../helpers/gateway'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { closed, directSubscriber, fixtureFor, mqttFixture } from '../helpers/mqtt-fixture'
import { writeDevPki } from '../../src/ca/pki'
import { waitFor } from '../helpers/wait'

/** Admin calls to one replica, clients to another. */
function view(admin: GatewayProcess, clients: GatewayProcess, certsDir: string): TestGateway {
  return { admin: admin.admin, mqttPort: clients.ports.mqtts, amqpPort: clients.ports.amqps, certsDir } as unknown as TestGateway
}

t.test('a policy change made through one replica applies to a live session on the other within 1 s', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await serviceAvailable(t, 'mosquitto', 1883))) return
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-authz-replicas-'))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const redisPrefix = `portcullis-test:${unique('authz-replicas')}:`
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTAUTHZREPLICA',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
    PORTCULLIS_MASTER_KEY_ID: 'authz-replica-key',
  }
  const a = await startGatewayProcess({ name: 'a', dir, certsDir, redisPrefix, env })
  const b = await startGatewayProcess({ name: 'b', dir, certsDir, redisPrefix, env })
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()])
    await deleteRedisKeys(redisPrefix)
    rmSync(dir, { recursive: true, force: true })
  })
  const fxA = await mqttFixture(view(a, a, certsDir))
  const fxB = fixtureFor(view(a, b, certsDir), fxA)
  const instanceId = fxA.instanceId
  const policy = unique('replica-fleet')
  const statements = (receive: boolean): unknown[] => [
    { effect: 'Allow', actions: ['mqtt:Connect', 'mqtt:Subscribe'], resources: ['*'] },
    ...(receive ? [{ effect: 'Allow', actions: ['mqtt:Receive'], resources: [`mqtt:${instanceId}:topic/commands/\${certCommonName}`] }] : []),
  ]
  const put = async (body: unknown): Promise<void> => {
    const res = await a.admin('PUT', `/v1/policies/${policy}`, body)
    if (res.status !== 200 && res.status !== 201) throw new Error(`put policy: ${res.status} ${JSON.stringify(res.body)}`)
  }
  await put({ statements: statements(true) })
  t.equal((await a.admin('POST', `/v1/policies/${policy}/attachments`, { principal: `instance:${instanceId}` })).status, 201)
  t.equal((await a.admin('PATCH', `/v1/instances/${instanceId}`, { authorization: { mode: 'enforce' } })).status, 200)

  const cn = unique('dev')
  const client = await fxB.connect(await fxB.device(cn), { clientId: cn, protocolVersion: 5 })
  t.teardown(() => client.end(true))
  await client.subscribeAsync(`commands/${cn}`, { qos: 1 })
  const messages: string[] = []
  client.on('message', (_topic, payload) => messages.push(payload.toString()))
  const direct = await directSubscriber(`unused/${cn}`)
  t.teardown(() => direct.client.endAsync())
  await direct.client.publishAsync(`commands/${cn}`, 'before', { qos: 1 })
  await waitFor(() => messages.includes('before'), 2000)

  // Through A; B hears it from Redis. Deliveries published from 1 s after the change are dropped.
  await put({ statements: statements(false) })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  await direct.client.publishAsync(`commands/${cn}`, 'after', { qos: 1 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(messages, ['before'], 'replica B drops deliveries the changed policy no longer allows')

  // Detaching the policy leaves the device nothing: B kicks it (mqtt:Connect) within 1 s.
  const started = Date.now()
  t.equal((await a.admin('DELETE', `/v1/policies/${policy}/attachments/${encodeURIComponent(`instance:${instanceId}`)}`)).status, 204)
  await closed(client, 1000)
  t.ok(Date.now() - started <= 1000, `kicked on B within 1 s (${Date.now() - started} ms)`)
})

