import { waitFor } from '../helpers/wait'
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type amqplib from 'amqplib'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { amqpFixture, directAmqp, type AmqpFixture } from '../helpers/amqp-fixture'
import { encodeUserName, passwordFor } from '../../src/auth/credentials'

const run = promisify(execFile)

/**
 * DESIGN §4 AMQP enforcement with real clients (amqplib, Debian's python3-pika) through the
 * gateway to the real RabbitMQ: docs/authorization.md's sub-account that may only publish to one
 * exchange. A denied method closes its channel 403 and keeps the connection.
 */
async function ok<T = any>(res: Promise<{ status: number; body: T }>, what: string): Promise<T> {
  const { status, body } = await res
  if (status < 200 || status >= 300) throw new Error(`${what}: HTTP ${status} ${JSON.stringify(body)}`)
  return body
}

interface SubAccount {
  accountId: string
  key: { accessKeyId: string; accessKeySecret: string }
  policy: string
  credentials(): { userName: string; password: string }
}

async function subAccount(tg: TestGateway, fx: AmqpFixture, statements: unknown[]): Promise<SubAccount> {
  const accountId = unique('orders')
  await ok(tg.admin('POST', '/v1/accounts', { id: accountId, displayName: 'order writers' }), 'create account')
  const key = await ok<{ accessKeyId: string; accessKeySecret: string }>(tg.admin('POST', '/v1/access-keys', { accountId, description: 'orders' }), 'create key')
  const policy = unique('orders-writer')
  await ok(tg.admin('PUT', `/v1/policies/${policy}`, { statements }), 'put policy')
  await ok(tg.admin('POST', `/v1/policies/${policy}/attachments`, { principal: `account:${accountId}` }), 'attach')
  return {
    accountId, key, policy,
    credentials: () => ({
      userName: encodeUserName({ type: 0, instanceId: fx.instanceId, accessKeyId: key.accessKeyId }),
      password: passwordFor(key.accessKeySecret, String(Date.now())),
    }),
  }
}

/** Resolves with the channel's close error (amqplib emits 'error' for a server Channel.Close). */
function channelClosed(channel: amqplib.Channel, timeoutMs = 3000): Promise<Error> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('channel not closed')), timeoutMs)
    channel.once('error', (err: Error) => {
      clearTimeout(timer)
      resolve(err)
    })
  })
}

t.test('AMQP enforcement: a sub-account that may only publish to one exchange', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const tg = await startTestGateway(t)
  const fx = await amqpFixture(tg)
  await ok(tg.admin('PATCH', `/v1/instances/${fx.instanceId}`, { authorization: { mode: 'enforce' } }), 'enforce')
  const orders = unique('orders')
  const other = unique('other')
  const queue = unique('orders-q')
  const direct = await directAmqp()
  const setup = await direct.createChannel()
  await setup.assertExchange(orders, 'fanout', { autoDelete: false })
  await setup.assertExchange(other, 'fanout', { autoDelete: false })
  await setup.assertQueue(queue, { autoDelete: false })
  await setup.bindQueue(queue, orders, '')
  t.teardown(async () => {
    await setup.deleteQueue(queue)
    await setup.deleteExchange(orders)
    await setup.deleteExchange(other)
    await direct.close()
  })
  const writer = await subAccount(tg, fx, [
    { effect: 'Allow', actions: ['amqp:Connect'], resources: [`amqp:${fx.instanceId}:vhost//`] },
    { effect: 'Allow', actions: ['amqp:Publish'], resources: [`amqp:${fx.instanceId}:/:exchange/${orders}`] },
  ])

  t.test('amqplib: the allowed exchange takes the publish; any other method closes only its channel 403', async (t) => {
    const conn = await fx.connect(writer.credentials())
    t.teardown(() => conn.close().catch(() => undefined))
    const ch = await conn.createChannel()
    ch.publish(orders, '', Buffer.from('order 1'))
    const got = await waitForMessage(setup, queue)
    t.equal(got, 'order 1', 'the order reached RabbitMQ')

    const denied = await conn.createChannel()
    const closing = channelClosed(denied)
    denied.publish(other, '', Buffer.from('nope'))
    const err = await closing
    t.match(err.message, /403/)
    t.match(err.message, /ACCESS_REFUSED - NOT_AUTHORIZED amqp:Publish/)

    for (const [action, attempt] of [
      ['amqp:Consume', (c: amqplib.Channel) => c.consume(queue, () => undefined)],
      ['amqp:Declare', (c: amqplib.Channel) => c.assertQueue(unique('q'))],
      ['amqp:Purge', (c: amqplib.Channel) => c.purgeQueue(queue)],
      ['amqp:Delete', (c: amqplib.Channel) => c.deleteExchange(orders)],
      ['amqp:Bind', (c: amqplib.Channel) => c.bindQueue(queue, other, '')],
    ] as const) {
      const c = await conn.createChannel()
      c.on('error', () => undefined)
      const failure = await (attempt(c) as Promise<unknown>).then(() => 'succeeded', (e: Error) => e.message)
      t.match(failure, new RegExp(`NOT_AUTHORIZED ${action}`), `${action} is refused on its channel`)
    }

    const again = await conn.createChannel()
    again.publish(orders, '', Buffer.from('order 2'))
    t.equal(await waitForMessage(setup, queue), 'order 2', 'the connection outlived every refusal')
    const event = await tg.waitForEvent((e) => e.type === 'authorization.denied' && e.details.action === 'amqp:Publish' && e.instanceId === fx.instanceId)
    t.equal(event.details.resource, `amqp:${fx.instanceId}:/:exchange/${other}`)
  })

  t.test('amqp:Connect on a vhost the policies do not name is refused with Connection.Close 403', async (t) => {
    const failure = await fx.connect(writer.credentials(), { vhost: 'not-granted' }).then(
      async (c) => { await c.close(); return 'connected' }, (e: Error) => e.message)
    // amqplib reports a Close during its handshake without the text; pika shows what was sent.
    t.match(failure, /ConnectionClose/)
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-pika-vhost-'))
    const cafile = join(dir, 'ca.pem')
    writeFileSync(cafile, fx.serverCa)
    const creds = writer.credentials()
    const { stdout } = await run('/usr/bin/python3', ['-c', PIKA_OPEN_VHOST, String(tg.amqpPort), fx.hostname, cafile, creds.userName, creds.password, 'not-granted'], { timeout: 20_000 })
    t.match(stdout.trim(), /^refused .*\(403\) 'ACCESS_REFUSED - NOT_AUTHORIZED'$/, 'Connection.Close 403 ACCESS_REFUSED - NOT_AUTHORIZED')
    const refused = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.reason === 'NOT_AUTHORIZED' && e.instanceId === fx.instanceId)
    t.equal(refused.actor.accessKeyId, writer.key.accessKeyId)
  })

  t.test('an AccessKey of the root account is granted everything', async (t) => {
    const conn = await fx.connect(fx.dynamicCredentials())
    t.teardown(() => conn.close().catch(() => undefined))
    const ch = await conn.createChannel()
    const q = await ch.assertQueue(unique('root-q'), { autoDelete: true })
    await ch.deleteQueue(q.queue)
  })

  t.test("Debian's python3-pika is refused on the other exchange and publishes to the allowed one", async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-pika-'))
    const cafile = join(dir, 'ca.pem')
    writeFileSync(cafile, fx.serverCa)
    const creds = writer.credentials()
    const { stdout } = await run('/usr/bin/python3', [
      join(__dirname, '../fixtures/pika_authorization.py'), String(tg.amqpPort), fx.hostname, cafile,
      creds.userName, creds.password, orders, other,
    ], { timeout: 20_000 })
    const [closedLine, confirmed] = stdout.trim().split('\n')
    t.match(closedLine, /^closed 403 ACCESS_REFUSED - NOT_AUTHORIZED amqp:Publish/)
    t.equal(confirmed, 'confirmed')
    t.equal(await waitForMessage(setup, queue), 'from pika')
  })

  t.test('a consumer whose amqp:Consume is withdrawn has its channel closed and stops receiving', async (t) => {
    const reader = await subAccount(tg, fx, [
      { effect: 'Allow', actions: ['amqp:Connect'], resources: [`amqp:${fx.instanceId}:vhost//`] },
      { effect: 'Allow', actions: ['amqp:Consume'], resources: [`amqp:${fx.instanceId}:/:queue/${queue}`] },
    ])
    const conn = await fx.connect(reader.credentials())
    t.teardown(() => conn.close().catch(() => undefined))
    const ch = await conn.createChannel()
    const received: string[] = []
    await ch.consume(queue, (m) => { if (m !== null) received.push(m.content.toString()) }, { noAck: true })
    setup.sendToQueue(queue, Buffer.from('first'))
    await waitFor(() => received.includes('first'), 3000)
    const closing = channelClosed(ch)
    const started = Date.now()
    await ok(tg.admin('PUT', `/v1/policies/${reader.policy}`, { statements: [
      { effect: 'Allow', actions: ['amqp:Connect'], resources: [`amqp:${fx.instanceId}:vhost//`] },
    ] }), 'withdraw consume')
    const err = await closing
    t.ok(Date.now() - started <= 1000, 'within 1 s of the change')
    t.match(err.message, /NOT_AUTHORIZED amqp:Consume/)
    setup.sendToQueue(queue, Buffer.from('second'))
    await new Promise((resolve) => setTimeout(resolve, 300))
    t.same(received, ['first'], 'no delivery after the channel closed')
    t.equal(await waitForMessage(setup, queue), 'second', 'the message stayed in the queue for someone allowed')
    const still = await conn.createChannel()
    await still.close()
  })
})

/** Opens a vhost with python3-pika; prints `refused <pika's account of the Close>` or `opened`. */
const PIKA_OPEN_VHOST = `
import ssl, sys, pika, pika.exceptions
port, servername, cafile, username, password, vhost = sys.argv[1:7]
context = ssl.create_default_context(cafile=cafile)
params = pika.ConnectionParameters(host="127.0.0.1", port=int(port), virtual_host=vhost,
    credentials=pika.PlainCredentials(username, password),
    ssl_options=pika.SSLOptions(context, server_hostname=servername), connection_attempts=1, socket_timeout=5)
try:
    pika.BlockingConnection(params).close()
    print("opened")
except pika.exceptions.AMQPConnectionError as failed:
    # A Close during the handshake: pika wraps ConnectionClosedByBroker((code) 'text').
    print(f"refused {failed.args[0] if failed.args else failed}")
`

async function waitForMessage(channel: amqplib.Channel, queue: string, timeoutMs = 3000): Promise<string> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const message = await channel.get(queue, { noAck: true })
    if (message !== false) return message.content.toString()
    if (Date.now() > deadline) throw new Error(`no message in ${queue}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

