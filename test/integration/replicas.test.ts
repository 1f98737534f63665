import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { deleteRedisKeys, serviceAvailable } from '../helpers/services'
import { unique, type TestGateway } from '../helpers/gateway'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { closed, fixtureFor, mqttFixture } from '../helpers/mqtt-fixture'
import { amqpFixture } from '../helpers/amqp-fixture'
import { writeDevPki } from '../../src/ca/pki'

/** Enough of a TestGateway for the fixtures: admin calls to one replica, clients to another. */
function view(admin: GatewayProcess, clients: GatewayProcess, certsDir: string): TestGateway {
  return { admin: admin.admin, mqttPort: clients.ports.mqtts, amqpPort: clients.ports.amqps, certsDir } as unknown as TestGateway
}

/** A directory with the dev PKI and a Redis key prefix of its own; `cleanup` after the processes stop. */
async function processFixture(label: string): Promise<{ dir: string; certsDir: string; redisPrefix: string; cleanup(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-${label}-`))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const redisPrefix = `portcullis-test:${unique(label)}:`
  return {
    dir, certsDir, redisPrefix,
    cleanup: async () => {
      await deleteRedisKeys(redisPrefix)
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

t.test('two gateway processes on one Redis act as one gateway', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await serviceAvailable(t, 'mosquitto', 1883)) || !(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const { dir, certsDir, redisPrefix, cleanup } = await processFixture('replicas')
  // Every replica shares the root AccessKey and the master key (it opens the others' secrets).
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTREPLICATEST',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
    PORTCULLIS_MASTER_KEY_ID: 'replica-test-key',
  }
  const a = await startGatewayProcess({ name: 'a', dir, certsDir, redisPrefix, env })
  const b = await startGatewayProcess({ name: 'b', dir, certsDir, redisPrefix, env })
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()])
    await cleanup()
  })

  const fxA = await mqttFixture(view(a, a, certsDir))
  const fxB = fixtureFor(view(a, b, certsDir), fxA)

  t.test('a device revoked through A is disconnected from B within 1 second', async (t) => {
    const device = await fxB.device('on-replica-b')
    const client = await fxB.connect(device)
    const devices = (await a.admin('GET', `/v1/instances/${fxA.instanceId}/devices`)).body.items
    const id = devices.find((d: { subject: string }) => d.subject.includes('on-replica-b')).id
    const started = Date.now()
    t.equal((await a.admin('POST', `/v1/instances/${fxA.instanceId}/devices/${id}/revoke`)).status, 200)
    await closed(client, 1000)
    t.ok(Date.now() - started <= 1000, `closed ${Date.now() - started} ms after the call to A returned`)
    await t.rejects(fxB.connect(device), 'and refused by B from then on')
  })

  t.test('GET /v1/connections on either replica lists the sessions of both; a kick through A reaches B', async (t) => {
    const onA = await fxA.connect(await fxA.device())
    const onB = await fxB.connect(await fxB.device())
    for (const replica of [a, b]) {
      const list = (await replica.admin('GET', `/v1/connections?instanceId=${fxA.instanceId}`)).body.items as Array<{ clientId: string; processId: string; connId: string }>
      const ids = list.map((s) => s.clientId)
      t.ok(ids.includes(onA.options.clientId as string) && ids.includes(onB.options.clientId as string), 'both sessions listed')
      t.equal(new Set(list.map((s) => s.processId)).size, 2, 'from two processes')
    }
    const list = (await a.admin('GET', `/v1/connections?instanceId=${fxA.instanceId}`)).body.items as Array<{ clientId: string; connId: string }>
    const target = list.find((s) => s.clientId === onB.options.clientId)
    t.equal((await a.admin('DELETE', `/v1/connections/${target?.connId}`)).status, 204)
    await closed(onB, 1000)
    t.ok(onA.connected, 'the other session stays')
    await onA.endAsync()
  })

  t.test('an AccessKey disabled through A closes its AMQP connection on B within 1 second', async (t) => {
    const fx = await amqpFixture(view(a, b, certsDir))
    const conn = await fx.connect(fx.dynamicCredentials())
    const closedWith = new Promise<string>((resolve) => {
      conn.on('error', (e: Error) => resolve(e.message))
      conn.on('close', (e?: Error) => resolve(e?.message ?? 'closed'))
    })
    const started = Date.now()
    t.equal((await a.admin('PATCH', `/v1/access-keys/${fx.accessKeyId}`, { status: 'Inactive' })).status, 200)
    t.match(await closedWith, /ACCESS_KEY_DISABLED/)
    t.ok(Date.now() - started <= 1000, `closed within 1 s (${Date.now() - started} ms)`)
  })

  t.test('a blacklist entry added through B closes a session held by A', async (t) => {
    const clientId = unique('banned-on-a')
    const client = await fxA.connect(await fxA.device(), { clientId })
    t.equal((await b.admin('POST', '/v1/blacklist', { kind: 'clientId', value: clientId })).status, 201)
    await closed(client, 1000)
  })
})

t.test('workers: 2 share the listeners, and a change reaches every worker', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await serviceAvailable(t, 'mosquitto', 1883))) return
  const { dir, certsDir, redisPrefix, cleanup } = await processFixture('workers')
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTWORKERSTEST',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
  }
  const gw = await startGatewayProcess({ name: 'w', dir, certsDir, redisPrefix, env, config: { workers: 2 } })
  t.teardown(async () => {
    await gw.stop()
    await cleanup()
  })
  const port = gw.ports.mqtts as number
  let sockets = 0
  for (let waited = 0; waited < 10_000 && (sockets = listeningSockets(port)) < 2; waited += 100) await new Promise((r) => setTimeout(r, 100))
  t.equal(sockets, 2, `each worker listens on a socket of its own on port ${port} (SO_REUSEPORT): the kernel picks one worker per connection`)
  const fx = await mqttFixture(view(gw, gw, certsDir))
  const device = await fx.device('many-sessions')
  const clients = await Promise.all(Array.from({ length: 16 }, () => fx.connect(device)))
  const list = (await gw.admin('GET', `/v1/connections?instanceId=${fx.instanceId}`)).body.items as Array<{ processId: string }>
  t.equal(list.length, 16, 'every session is listed, whichever worker holds it')
  t.comment(`sessions spread over ${new Set(list.map((s) => s.processId)).size} worker(s) by the kernel`)
  const devices = (await gw.admin('GET', `/v1/instances/${fx.instanceId}/devices`)).body.items
  t.equal((await gw.admin('POST', `/v1/instances/${fx.instanceId}/devices/${devices[0].id}/revoke`)).status, 200)
  await Promise.all(clients.map((c) => closed(c, 1000)))
  t.pass('all 16 sessions closed within 1 s of the revocation')
})

/** Listening TCP sockets on `port`, from the kernel's own table (state 0A is LISTEN). */
function listeningSockets(port: number): number {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  let count = 0
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = existsSync(table) ? readFileSync(table, 'utf8').split('\n').slice(1) : []
    for (const line of lines) {
      const [, local, , state] = line.trim().split(/\s+/)
      if (local?.endsWith(`:${hexPort}`) && state === '0A') count++
    }
  }
  return count
}
