import t from 'tap'
import { deleteRedisKeys, serviceAvailable } from '../helpers/services'
import { startTestGateway, unique } from '../helpers/gateway'
import { mqttFixture } from '../helpers/mqtt-fixture'

t.test('GET /v1/audit answers for every replica writing one Redis stream', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await serviceAvailable(t, 'mosquitto', 1883))) return
  const key = `portcullis-test:${unique('audit-stream')}`
  const redisPrefix = `portcullis-test:${unique('audit-replicas')}:`
  t.teardown(() => deleteRedisKeys(redisPrefix, [key]))
  const config = { audit: { sinks: [{ kind: 'redis-stream', key, maxLen: 10_000 }] } }
  const a = await startTestGateway(t, { redisPrefix, config })
  const b = await startTestGateway(t, { redisPrefix, config, certsDir: a.certsDir, dataDir: a.dataDir })
  const fx = await mqttFixture(a)
  const client = await fx.connect(await fx.device())   // through replica a
  await client.endAsync()
  await a.waitForEvent((e) => e.type === 'connection.closed')

  const fromB = async () => (await b.admin('GET', `/v1/audit?instanceId=${fx.instanceId}&limit=100`)).body.items as Array<{ type: string; chain?: string }>
  let items = await fromB()
  for (let i = 0; i < 30 && !items.some((e) => e.type === 'connection.closed'); i++) {
    await new Promise((r) => setTimeout(r, 100))
    items = await fromB()
  }
  const types = items.map((e) => e.type)
  t.ok(types.includes('admin.instance.create') && types.includes('connection.accepted') && types.includes('connection.closed'),
    `replica b lists replica a's events (${types.join(', ')})`)
  t.ok(items.every((e) => e.chain === a.gateway.processId), 'each event names the chain (process) that wrote it')
  const closedOnly = (await b.admin('GET', `/v1/audit?type=connection.*&instanceId=${fx.instanceId}`)).body.items as Array<{ type: string }>
  t.ok(closedOnly.length >= 2 && closedOnly.every((e) => e.type.startsWith('connection.')), 'type filter with a prefix')
})
