import t from 'tap'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { serviceAvailable, unusedPort, type Test } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { amqpFixture, type AmqpFixture } from '../helpers/amqp-fixture'
import { loadMasterKey } from '../../src/auth/master-key'
import { issueSecurityToken } from '../../src/auth/security-tokens'
import { PROTOCOL_HEADER } from '../../src/protocols/amqp/frame-codec'

async function refused(t: Test, tg: TestGateway, fx: AmqpFixture, creds: { userName: string; password: string }, reason: string, text = `ACCESS_REFUSED - ${reason}`): Promise<void> {
  const since = tg.events().length
  const err = await fx.connect(creds).then(
    async (conn) => { await conn.close(); return new Error('connected, expected a refusal') },
    (e: Error) => e,
  )
  t.match(err.message, text, `the client is told ${text}`)
  const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.protocol === 'amqp' && tg.events().indexOf(e) >= since)
  t.equal(event.reason, reason, `audited with reason ${reason}`)
}

function rawTls(tg: TestGateway, fx: AmqpFixture): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port: tg.amqpPort, servername: fx.hostname, ca: fx.serverCa })
    s.once('secureConnect', () => resolve(s))
    s.once('error', reject)
  })
}

/** Everything the gateway sends until it closes. */
function collect(socket: TLSSocket): Promise<Buffer> {
  const chunks: Buffer[] = []
  socket.on('data', (c: Buffer) => chunks.push(c))
  socket.on('error', () => undefined)
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))))
}

t.test('refusals: every bad AMQP client gets ACCESS_REFUSED with a reason, and an audit event', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const tg = await startTestGateway(t, { handshakeTimeoutMs: 1500 })
  const fx = await amqpFixture(tg)

  t.test('a wrong secret', (t) => refused(t, tg, fx, fx.dynamicCredentials({ secret: 'not-the-secret' }), 'BAD_CREDENTIALS'))

  t.test('a tampered userName', async (t) => {
    const good = fx.dynamicCredentials()
    const plain = Buffer.from(good.userName, 'base64').toString('utf8')
    const flipped = plain.endsWith('X') ? 'Y' : 'X'
    const tampered = Buffer.from(plain.slice(0, -1) + flipped).toString('base64')
    await refused(t, tg, fx, { ...good, userName: tampered }, 'BAD_CREDENTIALS')
  })

  t.test('a userName that is not Base64', (t) => refused(t, tg, fx, { ...fx.dynamicCredentials(), userName: 'not base64 at all!' }, 'BAD_CREDENTIALS'))

  t.test('an unknown AccessKey', (t) => refused(t, tg, fx, fx.dynamicCredentials({ accessKeyId: 'LTAInobodyhasthiskey00' }), 'BAD_CREDENTIALS'))

  t.test('a disabled AccessKey', async (t) => {
    const key = await fx.createAccessKey()
    t.equal((await tg.admin('PATCH', `/v1/access-keys/${key.accessKeyId}`, { status: 'Inactive' })).status, 200)
    await refused(t, tg, fx, fx.dynamicCredentials({ accessKeyId: key.accessKeyId, secret: key.accessKeySecret }), 'ACCESS_KEY_INACTIVE')
  })

  t.test("another instance's userName", async (t) => {
    const other = await amqpFixture(tg)
    await refused(t, tg, fx, fx.dynamicCredentials({ instanceId: other.instanceId }), 'BAD_CREDENTIALS')
  })

  t.test('a dynamic timestamp outside the 15-minute window', async (t) => {
    await refused(t, tg, fx, fx.dynamicCredentials({ ts: Date.now() - 20 * 60_000 }), 'CREDENTIAL_EXPIRED')
    await refused(t, tg, fx, fx.dynamicCredentials({ ts: Date.now() + 20 * 60_000 }), 'CREDENTIAL_EXPIRED')
  })

  t.test('a deleted static account', async (t) => {
    const key = await fx.createAccessKey()
    const res = await fx.createStaticAccount(key)
    t.equal(res.status, 201)
    const creds = { userName: res.body.userName, password: res.body.password }
    const live = await fx.connect(creds)
    const closed = new Promise<string>((resolve) => {
      live.on('error', (e: Error) => resolve(e.message))
      live.on('close', (e?: Error) => resolve(e?.message ?? 'closed'))
    })
    t.equal((await tg.admin('DELETE', `/v1/instances/${fx.instanceId}/static-accounts/${key.accessKeyId}`)).status, 204)
    t.match(await closed, /STATIC_ACCOUNT_DELETED/, 'the live connection of the deleted account is closed')
    await refused(t, tg, fx, creds, 'BAD_CREDENTIALS')
  })

  t.test('an expired security token', async (t) => {
    const keyring = await loadMasterKey({ dataDir: tg.dataDir })
    const token = issueSecurityToken(keyring, fx.accessKeyId, 60, Date.now() - 120_000)
    await refused(t, tg, fx, fx.stsCredentials(token.securityToken), 'CREDENTIAL_EXPIRED')
  })

  t.test('a bad protocol header is answered with the 0-9-1 header, then closed', async (t) => {
    const socket = await rawTls(tg, fx)
    const port = socket.localPort
    const received = collect(socket)
    socket.write(Buffer.from('AMQP\x01\x01\x00\x09', 'latin1'))
    t.ok((await received).equals(PROTOCOL_HEADER), 'the server answers its own protocol header')
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
    t.equal(event.reason, 'PROTOCOL_ERROR')
  })

  for (const [name, frame] of [
    ['a malformed frame (bad frame-end octet)', Buffer.from([1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 11, 0x00])],
    ['an oversized frame, refused by its declared size', Buffer.from([1, 0, 0, 0x10, 0, 0, 0])],
  ] as const) {
    t.test(`${name} before authentication`, async (t) => {
      const socket = await rawTls(tg, fx)
      const port = socket.localPort
      const received = collect(socket)
      socket.write(PROTOCOL_HEADER)
      socket.write(frame)
      const bytes = await received
      t.match(bytes.toString('latin1'), /FRAME_ERROR/, 'Connection.Close 501 FRAME_ERROR')
      const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
      t.equal(event.reason, 'PROTOCOL_ERROR')
    })
  }

  t.test('a client that stalls in the handshake', async (t) => {
    const socket = await rawTls(tg, fx)
    const port = socket.localPort
    const received = collect(socket)
    socket.write(PROTOCOL_HEADER) // then nothing: no Start-Ok
    const started = Date.now()
    await received
    t.ok(Date.now() - started < 4000, 'closed by the 1.5 s deadline')
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
    t.equal(event.reason, 'HANDSHAKE_TIMEOUT')
  })

  t.test('a backend that is down: a clear close, and the gateway keeps serving', async (t) => {
    const port = await unusedPort()
    const down = await amqpFixture(tg, { backendPort: port })
    await refused(t, tg, down, down.dynamicCredentials(), 'BACKEND_UNAVAILABLE', 'CONNECTION_FORCED - BACKEND_UNAVAILABLE')
    const conn = await fx.connect(fx.dynamicCredentials())
    t.ok(await conn.createChannel(), 'another instance is still served')
    await conn.close()
  })

  t.test('a vhost the backend refuses is refused by RabbitMQ itself, through the splice', async (t) => {
    const err = await fx.connect(fx.dynamicCredentials(), { vhost: unique('/no-such-vhost') }).then(
      async (c) => { await c.close(); return new Error('connected') },
      (e: Error) => e,
    )
    t.match(err.message, /NOT_ALLOWED|530|ConnectionClose/, `the broker's own Connection.Close reaches the client (${err.message})`)
  })
})
