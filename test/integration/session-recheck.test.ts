/**
 * Rules that change while a connection is still being admitted, and credentials that expire
 * during a session.
 *
 * A connection passes the blacklist and tunnel checks, then waits on its broker (the upstream
 * connect, the AMQP backend handshake). A rule that changes during that wait must still apply to
 * it: either the connection is refused (connection.rejected) or, once registered, kicked
 * (session.kicked) — never admitted for good. The broker is made slow with a delay relay
 * (test/helpers/delay-relay.ts): MQTT reaches it over TLS, so that the gateway's upstream connect
 * itself waits (an MQTT gateway waits for no broker byte before the splice), and in clear, where
 * the gateway has spliced and the broker's CONNACK is what is late (a kick then must not be a
 * DISCONNECT before any CONNACK, MQTT-3.14.0-1); AMQP in clear, where the gateway waits for the
 * broker's Connection.Start.
 *
 * And an AMQP session logged in with an STS security token ends when the token does (DESIGN §4:
 * kick reason CREDENTIAL_EXPIRED), with `320 CONNECTION_FORCED - CREDENTIAL_EXPIRED`.
 *
 * Reasons are compared as plain strings: CREDENTIAL_EXPIRED is not (yet) a typed kick reason.
 */
import t from 'tap'
import mqtt, { type MqttClient } from 'mqtt'
import amqpCallback from 'amqplib/callback_api'
import { serviceAvailable, type Test } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { fixtureFor, type MqttFixture } from '../helpers/mqtt-fixture'
import { amqpFixture, type AmqpFixture } from '../helpers/amqp-fixture'
import { startDelayRelay, type DelayRelay, type RelayConnection } from '../helpers/delay-relay'
import { startAmqpWireTap, type AmqpWireTap } from '../helpers/amqp-wire'
import { createCa, createLeaf, type KeyAndCert } from '../../src/ca/pki'
import type { AuditEvent } from '../../src/audit/event'

/** How long the slow broker keeps a new connection waiting. */
const DELAY_MS = 1500
/** When, after the gateway reached the slow broker, the test changes the rule. */
const CHANGE_AFTER_MS = 300
/** How soon after the broker's delay ends the connection must be refused or closed. */
const GRACE_MS = 500
/** MQTT 5 CONNACK reason codes. */
const SUCCESS = 0x00
const NOT_AUTHORIZED = 0x87
const BANNED = 0x8a

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
const sleepUntil = (at: number): Promise<void> => sleep(at - Date.now())
const relative = (at: number, delayEndsAt: number): string =>
  (at >= delayEndsAt ? `refused ${at - delayEndsAt} ms after it` : `refused ${delayEndsAt - at} ms before it`)

// ---------------------------------------------------------------------------------------------
// MQTT: an instance whose broker is Mosquitto behind a slow TLS relay, and a client that records
// exactly what it got (CONNACK and its code, a DISCONNECT, the close) and when.
// ---------------------------------------------------------------------------------------------

/**
 * `tls`: the gateway reaches the slow broker over TLS, so its upstream connect waits (before the
 * splice). `plain`: the TCP connect succeeds at once and the gateway splices; the broker's CONNACK
 * is what comes late.
 */
type SlowMode = 'tls' | 'plain'

async function slowMqttInstance(t: Test, tg: TestGateway, mode: SlowMode = 'tls'): Promise<{ fx: MqttFixture; relay: DelayRelay }> {
  const relayCa = await createCa({ commonName: 'slow broker CA' })
  const relayCert = await createLeaf({ commonName: 'localhost', issuer: relayCa, kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  const relay = await startDelayRelay({
    target: { host: '127.0.0.1', port: 1883 }, delayMs: DELAY_MS, ...(mode === 'tls' ? { tls: { key: relayCert.key, cert: relayCert.cert } } : {}),
  })
  t.teardown(() => relay.close())
  const instanceId = unique('mq-slow')
  const hostname = `${instanceId}.portcullis.local`
  const created = await tg.admin('POST', '/v1/instances', {
    id: instanceId, protocol: 'mqtt', hostnames: [hostname],
    backend: { kind: 'tcp', host: relay.host, port: relay.port, ...(mode === 'tls' ? { tls: { ca: relayCa.cert, servername: 'localhost' } } : {}) },
  })
  if (created.status !== 201) throw new Error(`instance create: ${created.status} ${JSON.stringify(created.body)}`)
  const ca = await createCa({ commonName: `${instanceId} CA` })
  const fx = fixtureFor(tg, { instanceId, hostname, ca })
  const registered = await fx.registerCa(ca)
  if (registered.status !== 201) throw new Error(`CA register: ${registered.status} ${JSON.stringify(registered.body)}`)
  return { fx, relay }
}

interface MqttAttempt {
  clientId: string
  client: MqttClient
  startedAt: number
  connack?: { at: number; reasonCode: number; reasonString?: string }
  /** A server DISCONNECT that came before any CONNACK (forbidden: MQTT-3.14.0-1). */
  disconnectBeforeConnack?: { at: number; reasonCode: number }
  closedAt?: number
  /** Resolves at a successful CONNACK or at the close, whichever comes first. */
  settled: Promise<void>
}

function mqttAttempt(t: Test, tg: TestGateway, fx: MqttFixture, cert: KeyAndCert, clientId: string): MqttAttempt {
  const client = mqtt.connect({
    protocol: 'mqtts', host: '127.0.0.1', port: tg.mqttPort, servername: fx.hostname, ca: fx.serverCa,
    cert: cert.cert, key: cert.key, clientId, protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 10_000,
  })
  t.teardown(() => { client.end(true) })
  let settle!: () => void
  const attempt: MqttAttempt = { clientId, client, startedAt: Date.now(), settled: new Promise<void>((resolve) => { settle = resolve }) }
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'connack' && attempt.connack === undefined) {
      const reasonString = packet.properties?.reasonString
      attempt.connack = { at: Date.now(), reasonCode: packet.reasonCode ?? packet.returnCode ?? -1, ...(reasonString !== undefined ? { reasonString } : {}) }
    }
    if (packet.cmd === 'disconnect' && attempt.connack === undefined && attempt.disconnectBeforeConnack === undefined) {
      attempt.disconnectBeforeConnack = { at: Date.now(), reasonCode: packet.reasonCode ?? -1 }
    }
  })
  client.on('connect', () => settle())
  client.on('error', () => undefined)
  client.stream.on('close', () => {
    attempt.closedAt ??= Date.now()
    settle()
  })
  client.on('close', () => {
    attempt.closedAt ??= Date.now()
    settle()
  })
  return attempt
}

function describe(a: MqttAttempt): string {
  const rel = (at: number | undefined): string => (at === undefined ? '-' : `+${at - a.startedAt} ms`)
  const connack = a.connack === undefined ? 'no CONNACK' : `CONNACK 0x${a.connack.reasonCode.toString(16).padStart(2, '0')}${a.connack.reasonString !== undefined ? ` "${a.connack.reasonString}"` : ''} at ${rel(a.connack.at)}`
  const disconnect = a.disconnectBeforeConnack === undefined ? '' : `, DISCONNECT 0x${a.disconnectBeforeConnack.reasonCode.toString(16)} before CONNACK at ${rel(a.disconnectBeforeConnack.at)}`
  return `${connack}${disconnect}, closed ${rel(a.closedAt)}`
}

/**
 * The refusal contract for a client whose rule changed while it waited on its broker: no
 * successful CONNACK ever; a CONNACK with `expectedCode`, or a close without CONNACK; no DISCONNECT
 * before a CONNACK; by the time the broker's delay has ended plus GRACE_MS.
 */
async function assertMqttRefused(t: Test, a: MqttAttempt, hop: RelayConnection, expectedCode: number): Promise<void> {
  const deadline = hop.delayEndsAt + GRACE_MS
  await Promise.race([a.settled, sleepUntil(deadline + 1500)])
  // A kick right after a successful CONNACK would still be a failure; give it the grace period.
  if (a.connack?.reasonCode === SUCCESS) await Promise.race([new Promise<void>((r) => a.client.stream.once('close', () => r())), sleepUntil(deadline)])
  const observed = describe(a)
  t.not(a.connack?.reasonCode, SUCCESS, `never a successful CONNACK (observed: ${observed})`)
  t.notOk(a.client.connected, `not connected (observed: ${observed})`)
  if (a.connack !== undefined) t.equal(a.connack.reasonCode, expectedCode, `refused with CONNACK 0x${expectedCode.toString(16)} (observed: ${observed})`)
  else t.ok(a.closedAt !== undefined, `closed without a CONNACK (observed: ${observed})`)
  t.equal(a.disconnectBeforeConnack, undefined, `no server DISCONNECT before a CONNACK [MQTT-3.14.0-1] (observed: ${observed})`)
  // When the refusal reached the client: its refusing CONNACK, or the close (no CONNACK at all).
  const refusedAt = a.connack === undefined ? a.closedAt : a.connack.reasonCode === SUCCESS ? undefined : a.connack.at
  t.ok(refusedAt !== undefined && refusedAt <= deadline,
    `refused within ${GRACE_MS} ms of the broker's delay ending (${refusedAt === undefined ? 'never refused' : relative(refusedAt, hop.delayEndsAt)})`)
}

/** The first audit event matching, or a failure listing what the instance's connections did record. */
async function auditEvent(t: Test, tg: TestGateway, instanceId: string, what: string, predicate: (e: AuditEvent) => boolean): Promise<AuditEvent | undefined> {
  try {
    return await tg.waitForEvent(predicate, 1500)
  } catch {
    const mine = tg.events().filter((e) => e.instanceId === instanceId && (e.type.startsWith('connection.') || e.type === 'session.kicked'))
      .map((e) => `${e.type}${e.reason !== undefined ? ` ${String(e.reason)}` : ''} ${JSON.stringify(e.actor)}`)
    t.fail(`audit: ${what} (recent connection events: ${mine.join('; ') || 'none'})`)
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// AMQP: amqplib (callback API, so that its close/error listeners are attached synchronously when
// the connection opens) through a wire tap that records the gateway's Connection.Close frames:
// amqplib hides the reply text of a Close that comes instead of Open-Ok.
// ---------------------------------------------------------------------------------------------

interface AmqpAttempt {
  startedAt: number
  wire: AmqpWireTap
  connection?: amqpCallback.Connection
  openedAt?: number
  /** amqplib's error when the handshake failed. */
  rejected?: { at: number; message: string }
  /** The error that closed an opened connection ('closed' when it closed without one). */
  closed?: { at: number; message: string }
  /** Resolves when the handshake fails or the connection opens. */
  opened: Promise<void>
  /** Resolves when the handshake fails or an opened connection closes. */
  ended: Promise<void>
}

async function amqpAttempt(t: Test, fx: AmqpFixture, tg: TestGateway, creds: { userName: string; password: string }): Promise<AmqpAttempt> {
  const wire = await startAmqpWireTap({ port: tg.amqpPort, servername: fx.hostname, ca: fx.serverCa })
  t.teardown(() => wire.close())
  const url = `amqp://${encodeURIComponent(creds.userName)}:${encodeURIComponent(creds.password)}@127.0.0.1:${wire.port}/%2F`
  let markOpened!: () => void
  let markEnded!: () => void
  const attempt: AmqpAttempt = {
    startedAt: Date.now(),
    wire,
    opened: new Promise<void>((resolve) => { markOpened = resolve }),
    ended: new Promise<void>((resolve) => { markEnded = resolve }),
  }
  amqpCallback.connect(url, { timeout: 10_000 }, (err: Error | null, conn) => {
    if (err !== null) {
      attempt.rejected = { at: Date.now(), message: err.message }
      markOpened()
      markEnded()
      return
    }
    attempt.connection = conn
    attempt.openedAt = Date.now()
    const onEnd = (e?: Error): void => {
      attempt.closed ??= { at: Date.now(), message: e?.message ?? 'closed' }
      markEnded()
    }
    conn.on('error', onEnd)
    conn.on('close', onEnd)
    markOpened()
  })
  t.teardown(() => new Promise<void>((resolve) => {
    if (attempt.connection === undefined || attempt.closed !== undefined) return resolve()
    attempt.connection.close(() => resolve())
  }))
  return attempt
}

function describeAmqp(a: AmqpAttempt): string {
  const rel = (at: number): string => `+${at - a.startedAt} ms`
  const frames = a.wire.closes.map((c) => `Connection.Close ${c.replyCode} "${c.replyText}" on channel ${c.channel} at ${rel(c.at)}`).join(', ')
  const client = a.rejected !== undefined
    ? `handshake failed at ${rel(a.rejected.at)}: ${a.rejected.message}`
    : a.openedAt === undefined
      ? 'still in the handshake'
      : `opened at ${rel(a.openedAt)}, ${a.closed === undefined ? 'still open' : `closed at ${rel(a.closed.at)}: ${a.closed.message}`}`
  return `${client}; gateway sent ${frames || 'no Connection.Close'}`
}

/**
 * The refusal contract on AMQP: the gateway's first Connection.Close is `403 ACCESS_REFUSED -
 * <refusal>` (a refused handshake) or `320 CONNECTION_FORCED - <kick>` (a kicked session), by the
 * broker's delay end plus GRACE_MS, and the client is not left with an open connection.
 */
async function assertAmqpRefused(t: Test, a: AmqpAttempt, hop: RelayConnection, refusal: string, kick: string): Promise<void> {
  const deadline = hop.delayEndsAt + GRACE_MS
  await Promise.race([a.ended, sleepUntil(deadline + 1500)])
  const observed = describeAmqp(a)
  const first = a.wire.closes[0]
  const said = first === undefined ? undefined : `${first.replyCode} ${first.replyText}`
  t.ok(said === `403 ACCESS_REFUSED - ${refusal}` || said === `320 CONNECTION_FORCED - ${kick}`,
    `Connection.Close 403 "ACCESS_REFUSED - ${refusal}" or 320 "CONNECTION_FORCED - ${kick}" (observed: ${observed})`)
  t.equal(first?.channel, 0, 'the Close is a connection-level one (channel 0)')
  t.ok(a.rejected !== undefined || a.closed !== undefined, `the client has no open connection (observed: ${observed})`)
  t.ok(first !== undefined && first.at <= deadline,
    `refused within ${GRACE_MS} ms of the broker's delay ending (${first === undefined ? 'never refused' : relative(first.at, hop.delayEndsAt)})`)
}

// ---------------------------------------------------------------------------------------------

t.test('rule changes while a connection waits on its broker still apply to it', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883)) || !(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const tg = await startTestGateway(t)
  const blacklist = async (entry: Record<string, unknown>): Promise<void> => {
    const res = await tg.admin('POST', '/v1/blacklist', { reason: 'session-recheck test', ...entry })
    if (res.status !== 201) throw new Error(`blacklist add: ${res.status} ${JSON.stringify(res.body)}`)
  }
  const slowMqtt = (t: Test, mode?: SlowMode) => slowMqttInstance(t, tg, mode)

  // The premise differs (see SlowMode); the contract does not.
  for (const [mode, how] of [['tls', 'in its TLS connect to'], ['plain', 'for the CONNACK of']] as const) {
    t.test(`MQTT (${mode} backend): a clientId blacklisted while the gateway waits ${how} the broker is refused BLACKLISTED`, async (t) => {
      const { fx, relay } = await slowMqtt(t, mode)
      // A control client of the same instance, waiting on the same slow broker at the same time.
      const control = mqttAttempt(t, tg, fx, await fx.device(), unique('control'))
      const controlHop = await relay.nextConnection()
      const clientId = unique('banned-while-waiting')
      const banned = mqttAttempt(t, tg, fx, await fx.device(), clientId)
      const hop = await relay.nextConnection()

      await sleepUntil(hop.acceptedAt + CHANGE_AFTER_MS)
      await blacklist({ kind: 'clientId', value: clientId })
      const changedAt = Date.now()
      t.ok(changedAt < hop.delayEndsAt && relay.connections.every((c) => c.pipedAt === undefined),
        `premise: the entry exists while the gateway still waits on the broker (${hop.delayEndsAt - changedAt} ms before the delay ends)`)

      await assertMqttRefused(t, banned, hop, BANNED)
      await auditEvent(t, tg, fx.instanceId, `connection.rejected BLACKLISTED or session.kicked BLACKLISTED for clientId ${clientId}`, (e) =>
        String(e.reason) === 'BLACKLISTED' && ((e.type === 'connection.rejected' && e.actor.clientId === clientId) ||
          (e.type === 'session.kicked' && e.details.clientId === clientId)))

      await Promise.race([control.settled, sleep(5000)])
      t.equal(control.connack?.reasonCode, SUCCESS, `the control client connects through the same slow broker (${describe(control)})`)
      t.ok(control.connack !== undefined && control.connack.at >= controlHop.delayEndsAt, 'premise: it waited for the broker delay before its CONNACK')
      t.ok(control.client.connected, 'the control client stays connected')
    })
  }

  t.test('AMQP: an AccessKey blacklisted while the gateway waits on the broker is refused BLACKLISTED', async (t) => {
    const relay = await startDelayRelay({ target: { host: '127.0.0.1', port: 5672 }, delayMs: DELAY_MS })
    t.teardown(() => relay.close())
    const fx = await amqpFixture(tg, { backendPort: relay.port })
    const other = await fx.createAccessKey()
    const control = await amqpAttempt(t, fx, tg, fx.dynamicCredentials({ accessKeyId: other.accessKeyId, secret: other.accessKeySecret }))
    const controlHop = await relay.nextConnection()
    const banned = await amqpAttempt(t, fx, tg, fx.dynamicCredentials())
    const hop = await relay.nextConnection()

    await sleepUntil(hop.acceptedAt + CHANGE_AFTER_MS)
    await blacklist({ kind: 'accessKey', value: fx.accessKeyId })
    const changedAt = Date.now()
    t.ok(changedAt < hop.delayEndsAt && relay.connections.every((c) => c.pipedAt === undefined),
      `premise: the entry exists while the gateway still waits on the broker (${hop.delayEndsAt - changedAt} ms before the delay ends)`)

    await assertAmqpRefused(t, banned, hop, 'BLACKLISTED', 'BLACKLISTED')
    await auditEvent(t, tg, fx.instanceId, `connection.rejected BLACKLISTED or session.kicked BLACKLISTED for AccessKey ${fx.accessKeyId}`, (e) =>
      String(e.reason) === 'BLACKLISTED' && ((e.type === 'connection.rejected' && e.actor.accessKeyId === fx.accessKeyId) ||
        (e.type === 'session.kicked' && e.details.accessKeyId === fx.accessKeyId)))

    await Promise.race([control.opened, sleep(5000)])
    t.ok(control.openedAt !== undefined && control.closed === undefined && control.wire.closes.length === 0,
      `the control client (another AccessKey) connects and stays (${describeAmqp(control)})`)
    t.ok(control.openedAt !== undefined && control.openedAt >= controlHop.delayEndsAt, 'premise: it waited for the broker delay')
  })

  t.test('MQTT: switching to Single Tunnel while the gateway waits on the broker refuses a client outside the VPC', async (t) => {
    const { fx, relay } = await slowMqtt(t)
    const clientId = unique('public-client')
    const attempt = mqttAttempt(t, tg, fx, await fx.device(), clientId)
    const hop = await relay.nextConnection()

    await sleepUntil(hop.acceptedAt + CHANGE_AFTER_MS)
    const patched = await tg.admin('PATCH', `/v1/instances/${fx.instanceId}`, { accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-the-client-is-not-in' })
    t.equal(patched.status, 200, 'instance switched to Single Tunnel')
    t.ok(Date.now() < hop.delayEndsAt && hop.pipedAt === undefined, 'premise: the rule changed while the gateway still waits on the broker')

    await assertMqttRefused(t, attempt, hop, NOT_AUTHORIZED)
    await auditEvent(t, tg, fx.instanceId, `connection.rejected TUNNEL_DENIED or session.kicked TUNNEL_POLICY_CHANGED for clientId ${clientId}`, (e) =>
      e.instanceId === fx.instanceId && ((e.type === 'connection.rejected' && String(e.reason) === 'TUNNEL_DENIED' && e.actor.clientId === clientId) ||
        (e.type === 'session.kicked' && String(e.reason) === 'TUNNEL_POLICY_CHANGED' && e.details.clientId === clientId)))
  })

  t.test('AMQP: switching to Single Tunnel while the gateway waits on the broker refuses a client outside the VPC', async (t) => {
    const relay = await startDelayRelay({ target: { host: '127.0.0.1', port: 5672 }, delayMs: DELAY_MS })
    t.teardown(() => relay.close())
    const fx = await amqpFixture(tg, { backendPort: relay.port })
    const attempt = await amqpAttempt(t, fx, tg, fx.dynamicCredentials())
    const hop = await relay.nextConnection()

    await sleepUntil(hop.acceptedAt + CHANGE_AFTER_MS)
    const patched = await tg.admin('PATCH', `/v1/instances/${fx.instanceId}`, { accessType: 'SINGLE_TUNNEL', vpcId: 'vpc-the-client-is-not-in' })
    t.equal(patched.status, 200, 'instance switched to Single Tunnel')
    t.ok(Date.now() < hop.delayEndsAt && hop.pipedAt === undefined, 'premise: the rule changed while the gateway still waits on the broker')

    await assertAmqpRefused(t, attempt, hop, 'TUNNEL_DENIED', 'TUNNEL_POLICY_CHANGED')
    await auditEvent(t, tg, fx.instanceId, `connection.rejected TUNNEL_DENIED or session.kicked TUNNEL_POLICY_CHANGED for AccessKey ${fx.accessKeyId}`, (e) =>
      e.instanceId === fx.instanceId && ((e.type === 'connection.rejected' && String(e.reason) === 'TUNNEL_DENIED' && e.actor.accessKeyId === fx.accessKeyId) ||
        (e.type === 'session.kicked' && String(e.reason) === 'TUNNEL_POLICY_CHANGED' && e.details.accessKeyId === fx.accessKeyId)))
  })
})

t.test('an AMQP session on an STS token is closed CREDENTIAL_EXPIRED at the token expiry', async (t) => {
  t.setTimeout(120_000)
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const tg = await startTestGateway(t)
  const fx = await amqpFixture(tg)
  const tokens = `/v1/access-keys/${fx.accessKeyId}/security-tokens`

  t.equal((await tg.admin('POST', tokens, { ttlSeconds: 59 })).status, 400, 'premise: 60 s is the shortest TTL the route issues')
  const issuedAt = Date.now()
  const issued = await tg.admin('POST', tokens, { ttlSeconds: 60 })
  t.equal(issued.status, 200, 'token issued')
  const expiresAt = Date.parse(issued.body.expiresAt)
  t.ok(expiresAt - issuedAt > 55_000 && expiresAt - issuedAt <= 61_000, `premise: expiresAt is 60 s away (${expiresAt - issuedAt} ms)`)

  // A dynamic login with the same AccessKey: the key is fine, only the token expires.
  const bystander = await fx.connect(fx.dynamicCredentials())
  let bystanderClosed: string | undefined
  bystander.on('error', (e: Error) => { bystanderClosed ??= e.message })
  bystander.on('close', (e?: Error) => { bystanderClosed ??= e?.message ?? 'closed' })
  t.teardown(() => bystander.close().catch(() => undefined))

  const connectedSince = tg.events().length
  const conn = await fx.connect(fx.stsCredentials(issued.body.securityToken))
  let closed: { at: number; message: string; code?: unknown } | undefined
  const closing = new Promise<void>((resolve) => {
    const onEnd = (e?: Error & { code?: unknown }): void => {
      closed ??= { at: Date.now(), message: e?.message ?? 'closed without an error', code: e?.code }
      resolve()
    }
    conn.on('error', onEnd)
    conn.on('close', onEnd)
  })
  t.teardown(() => (closed === undefined ? conn.close().catch(() => undefined) : undefined))
  const accepted = await tg.waitForEvent((e) => e.type === 'connection.accepted' && e.actor.accessKeyId === fx.accessKeyId &&
    e.actor.authKind === 'sts' && tg.events().indexOf(e) >= connectedSince)
  const connId = accepted.details.connId
  const ch = await conn.createChannel()
  ch.on('error', () => undefined)
  const queue = unique('portcullis-test-sts-q')
  await ch.assertQueue(queue, { exclusive: true, durable: false })

  await sleepUntil(expiresAt - 2000)
  t.equal(closed, undefined, 'still open 2 s before the token expires')
  t.ok(await ch.checkQueue(queue).then(() => true, () => false), 'the channel still works 2 s before the expiry')

  await Promise.race([closing, sleepUntil(expiresAt + 1500 + 2000)])
  const observed = closed === undefined ? `still open ${Date.now() - expiresAt} ms after expiresAt` : `closed ${closed.at - expiresAt} ms after expiresAt: ${closed.message}`
  t.ok(closed !== undefined && closed.at >= expiresAt, `not closed before expiresAt (observed: ${observed})`)
  t.ok(closed !== undefined && closed.at <= expiresAt + 1500, `closed within 1.5 s after expiresAt (observed: ${observed})`)
  t.match(closed?.message, '320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - CREDENTIAL_EXPIRED"',
    `Connection.Close 320 CONNECTION_FORCED - CREDENTIAL_EXPIRED (observed: ${observed})`)

  const kick = await auditEvent(t, tg, fx.instanceId, `session.kicked CREDENTIAL_EXPIRED for connection ${String(connId)}`, (e) =>
    e.type === 'session.kicked' && e.details.connId === connId)
  if (kick !== undefined) {
    t.equal(String(kick.reason), 'CREDENTIAL_EXPIRED', 'kick reason CREDENTIAL_EXPIRED')
    t.ok(Date.parse(kick.time) >= expiresAt, `kicked at or after expiresAt (${Date.parse(kick.time) - expiresAt} ms)`)
  }
  t.equal(bystanderClosed, undefined, 'a dynamic login with the same AccessKey stays open')
})
