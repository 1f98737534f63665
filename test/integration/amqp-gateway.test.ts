import t from 'tap'
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { serviceAvailable, type Test } from '../helpers/services'
import { startTestGateway, unique } from '../helpers/gateway'
import { amqpFixture, directAmqp } from '../helpers/amqp-fixture'
import type amqplib from 'amqplib'

const run = promisify(execFile)

async function roundTrip(t: Test, conn: amqplib.ChannelModel, body: Buffer): Promise<void> {
  const queue = unique('portcullis-test-q')
  const ch = await conn.createChannel()
  await ch.assertQueue(queue, { autoDelete: false, durable: false })
  // The message must really reach RabbitMQ: read it back on a direct connection.
  const direct = await directAmqp()
  try {
    ch.sendToQueue(queue, body)
    const dch = await direct.createChannel()
    let got: amqplib.GetMessage | false = false
    for (let i = 0; i < 50 && got === false; i++) {
      got = await dch.get(queue, { noAck: true })
      if (got === false) await new Promise((r) => setTimeout(r, 50))
    }
    t.ok(got, 'the message reached RabbitMQ')
    if (got !== false) t.ok(got.content.equals(body), `${body.length} bytes arrive intact`)
    // And back: a consumer through the gateway.
    const back = Buffer.from(`back ${unique('m')}`)
    const received = new Promise<Buffer>((resolve) => {
      void ch.consume(queue, (m) => { if (m) resolve(m.content) }, { noAck: true })
    })
    dch.sendToQueue(queue, back)
    t.ok((await received).equals(back), 'a consumer through the gateway receives')
    await dch.deleteQueue(queue)
  } finally {
    await direct.close()
    await ch.close().catch(() => undefined)
  }
}

t.test('AMQP clients with AccessKey credentials publish and consume through the gateway', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const tg = await startTestGateway(t)
  const fx = await amqpFixture(tg)

  t.test('a dynamic login (type 0)', async (t) => {
    const conn = await fx.connect(fx.dynamicCredentials())
    await roundTrip(t, conn, Buffer.from('hello dynamic'))
    await conn.close()
    const accepted = await tg.waitForEvent((e) => e.type === 'connection.accepted' && e.protocol === 'amqp' && e.actor.authKind === 'dynamic')
    t.equal(accepted.actor.accessKeyId, fx.accessKeyId)
    t.equal(accepted.instanceId, fx.instanceId)
  })

  t.test('a static account created through the API (type 2)', async (t) => {
    const res = await fx.createStaticAccount()
    t.equal(res.status, 201, JSON.stringify(res.body))
    const conn = await fx.connect({ userName: res.body.userName, password: res.body.password })
    await roundTrip(t, conn, Buffer.from('hello static'))
    await conn.close()
    const list = await tg.admin('GET', `/v1/instances/${fx.instanceId}/static-accounts`)
    t.equal(list.body.items.length, 1)
    t.notMatch(JSON.stringify(list.body), res.body.password, 'the list never returns the password')
  })

  t.test('an STS login with a gateway-issued security token', async (t) => {
    const res = await tg.admin('POST', `/v1/access-keys/${fx.accessKeyId}/security-tokens`, { ttlSeconds: 900 })
    t.equal(res.status, 200, 'token issued')
    const conn = await fx.connect(fx.stsCredentials(res.body.securityToken))
    await roundTrip(t, conn, Buffer.from('hello sts'))
    await conn.close()
  })

  t.test('AMQPLAIN credentials are accepted like PLAIN', async (t) => {
    const conn = await fx.connect(fx.dynamicCredentials(), { mechanism: 'AMQPLAIN' })
    await roundTrip(t, conn, Buffer.from('hello amqplain'))
    await conn.close()
  })

  t.test("an instance's backend vhost replaces the one the client asks for", async (t) => {
    const mapped = await amqpFixture(tg, { vhost: '/' })
    const conn = await mapped.connect(mapped.dynamicCredentials(), { vhost: unique('tenant-vhost') })
    await roundTrip(t, conn, Buffer.from('hello mapped vhost'))
    await conn.close()
  })

  t.test('a client without SNI is routed by the instance in its userName', async (t) => {
    const conn = await fx.connect(fx.dynamicCredentials(), { servername: false })
    await roundTrip(t, conn, Buffer.from('hello without SNI'))
    await conn.close()
  })

  t.test('messages larger than frame-max pass, and Tune values are honoured', async (t) => {
    const conn = await fx.connect(fx.dynamicCredentials(), { query: 'frameMax=8192&channelMax=7&heartbeat=0' })
    const negotiated = (conn as unknown as { connection: { frameMax: number; channelMax: number } }).connection
    t.equal(negotiated.frameMax, 8192, 'frame-max as the client asked (below the broker\'s)')
    t.equal(negotiated.channelMax, 7, 'channel-max as the client asked')
    await roundTrip(t, conn, randomBytes(300 * 1024))
    await conn.close()
  })

  t.test('heartbeats pass through the gateway', async (t) => {
    const conn = await fx.connect(fx.dynamicCredentials(), { query: 'heartbeat=1' })
    let closed = false
    conn.on('close', () => { closed = true })
    conn.on('error', () => undefined)
    // RabbitMQ drops a connection that misses two heartbeat intervals; idle for 3.5 of them.
    await new Promise((r) => setTimeout(r, 3500))
    t.notOk(closed, 'still open after 3.5 heartbeat intervals of idleness')
    await roundTrip(t, conn, Buffer.from('after the heartbeats'))
    await conn.close()
  })

  t.test('disabling the AccessKey disconnects its live connections within 1 second', async (t) => {
    const key = await fx.createAccessKey()
    const conn = await fx.connect(fx.dynamicCredentials({ accessKeyId: key.accessKeyId, secret: key.accessKeySecret }))
    const bystander = await fx.connect(fx.dynamicCredentials())
    const closedWith = new Promise<string>((resolve) => {
      conn.on('error', (err: Error) => resolve(err.message))
      conn.on('close', (err?: Error) => resolve(err?.message ?? 'closed'))
    })
    const started = Date.now()
    const res = await tg.admin('PATCH', `/v1/access-keys/${key.accessKeyId}`, { status: 'Inactive' })
    t.equal(res.status, 200)
    const message = await closedWith
    t.ok(Date.now() - started <= 1000, `closed within 1 s (${Date.now() - started} ms)`)
    t.match(message, /CONNECTION_FORCED - ACCESS_KEY_DISABLED/, 'the client is told why')
    const ch = await bystander.createChannel()
    t.ok(ch, 'a connection with another AccessKey is untouched')
    await bystander.close()
  })
})

t.test("Debian's python3-pika publishes and consumes through the gateway", async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const python = '/usr/bin/python3'
  const hasPika = await run(python, ['-c', 'import pika']).then(() => true, () => false)
  if (!hasPika) {
    const message = 'python3-pika is not installed (apt-get install python3-pika); .ci/run installs it'
    if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') t.fail(message)
    else t.pass(message, { skip: message })
    return
  }
  const tg = await startTestGateway(t)
  const fx = await amqpFixture(tg)
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pika-'))
  const cafile = join(dir, 'server-ca.pem')
  writeFileSync(cafile, fx.serverCa)
  const creds = fx.dynamicCredentials()
  const payload = `hello from pika ${unique('m')}`
  const { stdout } = await run(python, [
    join(__dirname, '../fixtures/pika_roundtrip.py'), String(tg.amqpPort), fx.hostname, cafile,
    creds.userName, creds.password, unique('portcullis-test-pika'), payload,
  ], { timeout: 20_000 })
  t.equal(stdout, payload, 'pika got its message back through the gateway')
  const accepted = await tg.waitForEvent((e) => e.type === 'connection.accepted' && e.protocol === 'amqp')
  t.equal(accepted.actor.accessKeyId, fx.accessKeyId)
})

t.test('an AccessKey of a sub-account made for AMQP clients cannot sign admin calls its policies do not grant', async (t) => {
  const tg = await startTestGateway(t)
  t.equal((await tg.admin('POST', '/v1/accounts', { id: 'amqp-clients' })).status, 201)
  const key = (await tg.admin('POST', '/v1/access-keys', { accountId: 'amqp-clients' })).body as { accessKeyId: string; accessKeySecret: string }
  const { signRequest } = await import('../../src/admin/signing')
  const headers = signRequest({ method: 'GET', url: '/v1/instances', accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret })
  const res = await fetch(`${tg.gateway.adminUrl}/v1/instances`, { headers })
  t.equal(res.status, 403, 'its signature verifies, and it is refused')
  t.equal(((await res.json()) as { code: string }).code, 'ACCESS_DENIED')
})
