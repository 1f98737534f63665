/**
 * The AMQP warm pool (issue 15, `limits.amqpWarmPool`) against the machine's RabbitMQ over real
 * TLS: backend connections logged in ahead of their clients and parked at Connection.Tune, each
 * handed to one client, which then tunes and opens it itself. What the broker saw is read from
 * the broker (`rabbitmqctl list_connections`): the pool's client-properties, the client's own
 * frame-max and heartbeat; and each accepted client's audit actor names the pooled connection it
 * got (`backendConnection` = the broker-side `portcullis.pool_connection_id`).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, type AddressInfo } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { promisify } from 'node:util'
import t from 'tap'
import type amqplib from 'amqplib'
import { amqpFixture, type AmqpFixture } from '../helpers/amqp-fixture'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { addRabbitUser, rabbitmqctlAvailable } from '../helpers/rabbitmq-users'
import { closeBrokerConnections, pooledConnectionsOf, portcullisProperties, type BrokerConnection } from '../helpers/rabbitmq-connections'
import { serviceAvailable, type Test } from '../helpers/services'
import { startSocatRelay } from '../helpers/socat-relay'
import { until, valueWithin, waitFor } from '../helpers/wait'
import type { AuditEvent } from '../../src/audit/event'
import { createCa, createLeaf } from '../../src/ca/pki'

const run = promisify(execFile)
const PYTHON = '/usr/bin/python3'

async function ready(t: Test): Promise<boolean> {
  return (await serviceAvailable(t, 'rabbitmq', 5672)) && (await rabbitmqctlAvailable(t))
}

// maxIdleMs 9000 (the longest) where a test lists connections with rabbitmqctl, which takes seconds on a busy machine.
function poolGateway(t: Test, pool: { size: number; maxIdleMs: number }): Promise<TestGateway> {
  return startTestGateway(t, { config: { limits: { handshakeTimeoutMs: 5000, amqpWarmPool: pool } } })
}

/** One sample of a metric from the gateway's /metrics, 0 when the series does not exist yet. */
async function metric(tg: TestGateway, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${tg.gateway.adminUrl}/metrics`)).text()
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const inside = line.slice(name.length + 1, line.indexOf('}'))
    if (Object.entries(labels).every(([k, v]) => inside.split(',').includes(`${k}="${v}"`))) return Number(line.slice(line.indexOf('}') + 1))
  }
  return 0
}

async function parkedOnGateway(tg: TestGateway, instance: string, n: number): Promise<void> {
  await waitFor(async () => (await metric(tg, 'portcullis_amqp_backend_pool_parked', { instance })) === n, 10_000, `${n} parked connections of ${instance}`)
}

function poolIdOf(c: BrokerConnection): string {
  return String(portcullisProperties(c)?.pool_connection_id)
}

async function roundTrip(conn: amqplib.ChannelModel, body: Buffer): Promise<Buffer> {
  const ch = await conn.createChannel()
  const queue = unique('pool-q')
  await ch.assertQueue(queue, { durable: false })
  const back = new Promise<Buffer>((resolve) => {
    void ch.consume(queue, (m) => { if (m !== null) resolve(m.content) }, { noAck: true })
  })
  ch.sendToQueue(queue, body)
  const got = await back
  await ch.deleteQueue(queue)
  await ch.close()
  return got
}

/** The connection.accepted event of the client accepted after `seen` events of that type. */
async function nextAccepted(tg: TestGateway, seen: number): Promise<AuditEvent> {
  return valueWithin(() => tg.events('connection.accepted')[seen], 5000, 'the connection.accepted event')
}

async function hasPika(t: Test): Promise<boolean> {
  if (await run(PYTHON, ['-c', 'import pika']).then(() => true, () => false)) return true
  const message = 'python3-pika is not installed (apt-get install python3-pika); .ci/run installs it'
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') t.fail(message)
  else t.pass(message, { skip: message })
  return false
}

async function pikaRoundTrip(t: Test, tg: TestGateway, fx: AmqpFixture, opts: { bytes: number; frameMax: number; heartbeat: number }): Promise<{ frameMax: number; heartbeat: number; roundTrip: boolean }> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-pool-pika-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cafile = join(dir, 'server-ca.pem')
  writeFileSync(cafile, fx.serverCa)
  const creds = fx.dynamicCredentials()
  const { stdout } = await run(PYTHON, [
    join(__dirname, '../fixtures/pika_tuned_roundtrip.py'), String(tg.amqpPort), fx.hostname, cafile,
    creds.userName, creds.password, unique('pool-pika'), String(opts.bytes), String(opts.frameMax), String(opts.heartbeat),
  ], { timeout: 20_000 })
  return JSON.parse(stdout) as { frameMax: number; heartbeat: number; roundTrip: boolean }
}

t.test('amqplib and pika clients get warm pooled connections and round-trip through them', async (t) => {
  if (!(await ready(t)) || !(await hasPika(t))) return
  const tg = await poolGateway(t, { size: 2, maxIdleMs: 9000 })
  const fx = await amqpFixture(tg)
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_parked', { instance: fx.instanceId }), 0, 'no pool before the instance has a client')
  t.same(await pooledConnectionsOf(tg.gateway.processId), [], 'and nothing on the broker')

  const first = await fx.connect(fx.dynamicCredentials())
  t.notOk((await nextAccepted(tg, 0)).actor.backendConnection, 'the first client found no pool and logged in cold')
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_missed_total', { instance: fx.instanceId }), 1)
  await first.close()
  await parkedOnGateway(tg, fx.instanceId, 2)
  const parked = await pooledConnectionsOf(tg.gateway.processId)
  t.equal(parked.length, 2, 'its login filled the pool: two connections on the broker')
  for (const c of parked) {
    t.equal(c.clientProperties.product, 'Portcullis', 'a pooled connection announces the gateway')
    t.not(c.state, 'running', 'and waits in the handshake (parked at Tune, not opened)')
  }
  const parkedIds = parked.map(poolIdOf)

  const client = await fx.connect(fx.dynamicCredentials())
  const accepted = await nextAccepted(tg, 1)
  t.ok(parkedIds.includes(String(accepted.actor.backendConnection)), 'the next client got one of them, named in its audit event')
  const body = randomBytes(64 * 1024)
  t.ok((await roundTrip(client, body)).equals(body), 'and round-trips a message through it')
  const mine = (await pooledConnectionsOf(tg.gateway.processId)).find((c) => poolIdOf(c) === accepted.actor.backendConnection)
  t.equal(mine?.state, 'running', 'on the broker that pooled connection is now the client\'s, opened')
  await client.close()
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_taken_total', { instance: fx.instanceId }), 1)

  await parkedOnGateway(tg, fx.instanceId, 2)
  const before = tg.events('connection.accepted').length
  const pika = await pikaRoundTrip(t, tg, fx, { bytes: 1000, frameMax: 131072, heartbeat: 30 })
  t.ok(pika.roundTrip, 'pika round-trips too')
  const pikaAccepted = await nextAccepted(tg, before)
  t.match(pikaAccepted.actor.backendConnection, /^[0-9a-f-]{36}$/, 'through a pooled connection')
  t.not(pikaAccepted.actor.backendConnection, accepted.actor.backendConnection, 'never one another client had')
})

t.test("a pooled connection is tuned to the client's own frame-max and heartbeat", async (t) => {
  if (!(await ready(t)) || !(await hasPika(t))) return
  const tg = await poolGateway(t, { size: 1, maxIdleMs: 9000 })
  const fx = await amqpFixture(tg)
  await (await fx.connect(fx.dynamicCredentials())).close()
  await parkedOnGateway(tg, fx.instanceId, 1)

  const client = await fx.connect(fx.dynamicCredentials(), { query: 'frameMax=8192&heartbeat=0' })
  const accepted = await nextAccepted(tg, 1)
  t.ok(accepted.actor.backendConnection, 'the client got a pooled connection')
  const body = randomBytes(100_000)
  t.ok((await roundTrip(client, body)).equals(body), 'a 100 kB delivery reaches it in frames it accepts (amqplib refuses a frame over its frame-max)')
  const broker = (await pooledConnectionsOf(tg.gateway.processId)).find((c) => poolIdOf(c) === accepted.actor.backendConnection)
  t.equal(broker?.frameMax, 8192, 'the broker holds it to the frame-max the client asked for')
  t.equal(broker?.heartbeat, 0, 'and to no heartbeat, so it never closes it for missing ones')
  await client.close()

  await parkedOnGateway(tg, fx.instanceId, 1)
  const before = tg.events('connection.accepted').length
  const pika = await pikaRoundTrip(t, tg, fx, { bytes: 50_000, frameMax: 4096, heartbeat: 0 })
  t.same(pika, { frameMax: 4096, heartbeat: 0, roundTrip: true }, 'pika negotiates its own 4096 and 0 through a pooled connection and round-trips 50 kB')
  t.ok((await nextAccepted(tg, before)).actor.backendConnection)
})

t.test('a client that does not announce consumer_cancel_notify never gets a pooled connection that did', async (t) => {
  if (!(await ready(t))) return
  const tg = await poolGateway(t, { size: 1, maxIdleMs: 9000 })
  const fx = await amqpFixture(tg)
  await (await fx.connect(fx.dynamicCredentials())).close()
  await parkedOnGateway(tg, fx.instanceId, 1)
  const [full] = await pooledConnectionsOf(tg.gateway.processId)
  t.same(full?.clientProperties.capabilities, { consumer_cancel_notify: true, 'connection.blocked': true }, 'amqplib\'s pool announces the two capabilities amqplib announced')

  // amqplib merges clientProperties over its own at the top level: this replaces its capabilities.
  const plain = { clientProperties: { capabilities: { 'connection.blocked': true, publisher_confirms: true } } }
  const connectPlain = async (): Promise<amqplib.ChannelModel> => {
    const amqp = (await import('amqplib')).default
    const creds = fx.dynamicCredentials()
    const url = `amqps://${encodeURIComponent(creds.userName)}:${encodeURIComponent(creds.password)}@127.0.0.1:${tg.amqpPort}/%2F`
    return amqp.connect(url, { ca: [fx.serverCa], servername: fx.hostname, timeout: 5000, ...plain })
  }
  const b = await connectPlain()
  t.notOk((await nextAccepted(tg, 1)).actor.backendConnection, 'the first such client is not given the parked one: it logs in cold')
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_taken_total', { instance: fx.instanceId }), 0, 'the one parked for a client like the first stays parked')
  await b.close()
  await parkedOnGateway(tg, fx.instanceId, 2)

  const c = await connectPlain()
  const accepted = await nextAccepted(tg, 2)
  t.ok(accepted.actor.backendConnection, 'the next such client gets a pooled connection of its own kind')
  t.not(accepted.actor.backendConnection, poolIdOf(full as BrokerConnection))
  const broker = (await pooledConnectionsOf(tg.gateway.processId)).find((x) => poolIdOf(x) === accepted.actor.backendConnection)
  t.same(broker?.clientProperties.capabilities, { 'connection.blocked': true }, 'which announced connection.blocked and not consumer_cancel_notify')
  t.equal(await roundTrip(c, Buffer.from('plain')).then(String), 'plain')
  await c.close()
})

t.test('rotating the backend password drops the pool: no later login uses a connection made with the old one', async (t) => {
  if (!(await ready(t))) return
  const tg = await poolGateway(t, { size: 2, maxIdleMs: 9000 })
  const user = await addRabbitUser(t, unique('pc-pool'), randomBytes(12).toString('hex'))
  const fx = await amqpFixture(tg, { backend: { username: user.username, password: user.password } })
  await (await fx.connect(fx.dynamicCredentials())).close()
  await parkedOnGateway(tg, fx.instanceId, 2)
  const oldIds = (await pooledConnectionsOf(tg.gateway.processId)).map(poolIdOf)
  t.equal(oldIds.length, 2)

  const second = randomBytes(12).toString('hex')
  await user.changePassword(second)
  t.equal((await tg.admin('POST', `/v1/instances/${fx.instanceId}/backend-password`, { password: second })).status, 200)
  await parkedOnGateway(tg, fx.instanceId, 0)
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_discarded_total', { instance: fx.instanceId, cause: 'instance_changed' }), 2, 'both parked connections are discarded at once')
  t.ok(await until(async () => (await pooledConnectionsOf(tg.gateway.processId)).every((c) => !oldIds.includes(poolIdOf(c))), 10_000), 'and gone from the broker')

  for (let i = 0; i < 3; i++) {
    const before = tg.events('connection.accepted').length
    const conn = await fx.connect(fx.dynamicCredentials())
    const accepted = await nextAccepted(tg, before)
    t.notOk(oldIds.includes(String(accepted.actor.backendConnection)), `login ${i + 1} after the rotation did not get a connection made with the old password`)
    t.equal(await roundTrip(conn, Buffer.from(`after ${i}`)).then(String), `after ${i}`)
    await conn.close()
    if (i === 0) await parkedOnGateway(tg, fx.instanceId, 2)
  }
  t.ok(await metric(tg, 'portcullis_amqp_backend_pool_taken_total', { instance: fx.instanceId }) >= 2, 'the pool refilled with the new password serves later clients')
  // Before the user is deleted (teardown): its parked connections are retired with an Open, which
  // the broker would refuse, and log as an error, for a user that no longer exists.
  await tg.stop()
})

t.test('parked connections expire and are not replaced without demand', async (t) => {
  if (!(await ready(t))) return
  const maxIdleMs = 400
  const tg = await poolGateway(t, { size: 2, maxIdleMs })
  const fx = await amqpFixture(tg)
  await (await fx.connect(fx.dynamicCredentials())).close()
  await parkedOnGateway(tg, fx.instanceId, 2)
  await parkedOnGateway(tg, fx.instanceId, 0)
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_expired_total', { instance: fx.instanceId }), 2, 'both expired unused')
  await new Promise((resolve) => setTimeout(resolve, 3 * maxIdleMs))
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_parked', { instance: fx.instanceId }), 0, 'and no client came since, so none replaced them')
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_expired_total', { instance: fx.instanceId }), 2, 'nor were any more opened to expire')
  t.same(await pooledConnectionsOf(tg.gateway.processId), [], 'the broker holds none of them')
})

t.test('stopping the gateway closes its parked connections', async (t) => {
  if (!(await ready(t))) return
  const tg = await poolGateway(t, { size: 2, maxIdleMs: 9000 })
  const fx = await amqpFixture(tg)
  await (await fx.connect(fx.dynamicCredentials())).close()
  await parkedOnGateway(tg, fx.instanceId, 2)
  const processId = tg.gateway.processId
  t.equal((await pooledConnectionsOf(processId)).length, 2, 'two parked on the broker')
  await tg.stop()
  t.ok(await until(async () => (await pooledConnectionsOf(processId)).length === 0, 10_000), 'after stop the broker holds no pooled connection of the gateway')
})

t.test('a pooled connection the broker closed while parked is never handed out; the client gets in cold', async (t) => {
  if (!(await ready(t))) return
  // The longest maxIdleMs: rabbitmqctl takes seconds on a busy machine, and they must not expire first.
  const tg = await poolGateway(t, { size: 2, maxIdleMs: 9000 })
  const fx = await amqpFixture(tg)
  await (await fx.connect(fx.dynamicCredentials())).close()
  await parkedOnGateway(tg, fx.instanceId, 2)
  const parked = await pooledConnectionsOf(tg.gateway.processId)
  await closeBrokerConnections(parked.map((c) => c.name), 'closed by the warm pool test')
  await parkedOnGateway(tg, fx.instanceId, 0)
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_expired_total', { instance: fx.instanceId }), 0, 'none expired meanwhile')
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_failed_total', { instance: fx.instanceId, stage: 'parked' }), 2, 'both are dropped as failed while parked')

  const conn = await fx.connect(fx.dynamicCredentials())
  const accepted = await nextAccepted(tg, 1)
  t.notOk(parked.map(poolIdOf).includes(String(accepted.actor.backendConnection)), 'the client did not get a closed one')
  t.equal(await roundTrip(conn, Buffer.from('cold')).then(String), 'cold', 'and works')
  await conn.close()
})

t.test('a parked connection cut on the way (a relay killed) is dropped, and clients log in cold once the backend is back', async (t) => {
  if (!(await ready(t))) return
  const relay = await startSocatRelay(5672)
  t.teardown(() => relay.kill())
  const tg = await poolGateway(t, { size: 2, maxIdleMs: 9000 })
  const fx = await amqpFixture(tg, { backendPort: relay.port })
  await (await fx.connect(fx.dynamicCredentials())).close()
  await parkedOnGateway(tg, fx.instanceId, 2)
  await relay.kill()
  await parkedOnGateway(tg, fx.instanceId, 0)
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_failed_total', { instance: fx.instanceId, stage: 'parked' }), 2)
  await relay.restart()
  const conn = await fx.connect(fx.dynamicCredentials())
  t.notOk((await nextAccepted(tg, 1)).actor.backendConnection, 'the next client logged in cold')
  t.equal(await roundTrip(conn, Buffer.from('relay')).then(String), 'relay')
  await conn.close()
})

t.test('over a TLS backend the pool verifies the broker as the cold path does', async (t) => {
  if (!(await ready(t))) return
  // RabbitMQ here listens in plain TCP only: a TLS terminator of the test's own, with a
  // certificate the test makes, stands in front of it.
  const brokerCa = await createCa({ commonName: 'pool backend CA' })
  const brokerCert = await createLeaf({ commonName: 'localhost', issuer: brokerCa, kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  const terminator = createTlsServer({ cert: brokerCert.cert, key: brokerCert.key }, (tlsSide) => {
    const plain = connect(5672, '127.0.0.1')
    tlsSide.on('error', () => plain.destroy())
    plain.on('error', () => tlsSide.destroy())
    tlsSide.pipe(plain).pipe(tlsSide)
  })
  await new Promise<void>((resolve) => terminator.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => { terminator.close(() => resolve()) }))
  const port = (terminator.address() as AddressInfo).port
  const tg = await poolGateway(t, { size: 1, maxIdleMs: 9000 })
  const fx = await amqpFixture(tg)
  const make = async (ca: string): Promise<string> => {
    const id = unique('amq-tls')
    const res = await tg.admin('POST', '/v1/instances', {
      id, protocol: 'amqp', hostnames: [`${id}.portcullis.local`],
      backend: { kind: 'tcp', host: '127.0.0.1', port, tls: { ca, servername: 'localhost' }, username: 'guest', password: 'guest' },
    })
    t.equal(res.status, 201)
    return id
  }
  const connectTo = (id: string): Promise<amqplib.ChannelModel> => fx.connect(fx.dynamicCredentials({ instanceId: id }), { servername: `${id}.portcullis.local` })

  const good = await make(brokerCa.cert)
  await (await connectTo(good)).close()
  await parkedOnGateway(tg, good, 1)
  const seen = tg.events('connection.accepted').length
  const conn = await connectTo(good)
  t.ok((await nextAccepted(tg, seen)).actor.backendConnection, 'a client gets a pooled connection made over verified TLS')
  t.equal(await roundTrip(conn, Buffer.from('tls')).then(String), 'tls')
  await conn.close()

  const otherCa = await createCa({ commonName: 'not the backend CA' })
  const bad = await make(otherCa.cert)
  await t.rejects(connectTo(bad), 'a backend whose certificate does not verify refuses the client')
  const refused = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.instanceId === bad)
  t.equal(refused.reason, 'BACKEND_UNAVAILABLE', 'with the reason code of the cold path')
  await waitFor(async () => (await metric(tg, 'portcullis_amqp_backend_pool_failed_total', { instance: bad, stage: 'login' })) >= 1, 5000, 'the pool login failed')
  t.equal(await metric(tg, 'portcullis_amqp_backend_pool_parked', { instance: bad }), 0, 'and parked nothing')
})
