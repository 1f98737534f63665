/**
 * The abuse limits of DESIGN §4 through a real gateway: real TCP and TLS on loopback, sources told
 * apart by PROXY headers from a trusted "balancer" or by real loopback addresses (127.0.0.2…),
 * refusals seen as the client sees them (a close before TLS), in the audit log and in
 * `portcullis_connections_rejected_total`.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import t from 'tap'
import amqplib from 'amqplib'
import mqtt, { MqttClient } from 'mqtt'
import mqttPacket from 'mqtt-packet'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'
import { amqpFixture } from '../helpers/amqp-fixture'
import { connectProxied } from '../helpers/proxied'
import { encodeProxyV1 } from '../../src/tunnel/proxy-protocol'
import type { AuditEvent } from '../../src/audit/event'

const DEST = { ip: '192.0.2.1', port: 8883 }
const header = (ip: string, port = 40_000): Buffer => encodeProxyV1({ family: 'IPv4', source: { ip, port }, destination: DEST })
const proxied = (name: string) => ({ name, protocol: 'mqtt', host: '127.0.0.1', port: 0, proxyProtocol: { mode: 'optional', trustedCidrs: ['127.0.0.1/32'] } })

/** A TLS handshake (behind a PROXY header when `source` is given): resolves 'tls', or 'closed' when refused before TLS. */
function handshake(port: number, fx: MqttFixture, o: { source?: string; localAddress?: string } = {}): Promise<{ outcome: 'tls' | 'closed'; socket: TLSSocket }> {
  return new Promise((resolve) => {
    const raw = netConnect({ host: '127.0.0.1', port, ...(o.localAddress !== undefined ? { localAddress: o.localAddress } : {}) })
    if (o.source !== undefined) raw.write(header(o.source))
    const socket = tlsConnect({ socket: raw, servername: fx.hostname, ca: fx.serverCa })
    socket.once('secureConnect', () => resolve({ outcome: 'tls', socket }))
    socket.once('error', () => resolve({ outcome: 'closed', socket }))
    socket.once('close', () => resolve({ outcome: 'closed', socket }))
  })
}

/** A TCP connection that sends nothing: it sits in the TLS stage until the handshake deadline. */
function idleSocket(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port, ...(localAddress !== undefined ? { localAddress } : {}) })
    socket.once('connect', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Resolves with the ms until the socket was closed by the gateway. */
function closedWithin(socket: Socket): Promise<number> {
  const started = Date.now()
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve(0)
    socket.on('error', () => undefined)
    socket.once('close', () => resolve(Date.now() - started))
  })
}

async function rejectedCount(tg: TestGateway, reason: string): Promise<number> {
  const text = await (await fetch(`${tg.gateway.adminUrl}/metrics`)).text()
  let total = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('portcullis_connections_rejected_total{') && line.includes(`reason="${reason}"`)) total += Number(line.split(' ').pop())
  }
  return total
}

const rejected = (tg: TestGateway, reason: string, ip?: string): AuditEvent[] =>
  tg.events('connection.rejected').filter((e) => e.reason === reason && (ip === undefined || e.source?.ip === ip))

const settle = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

t.test('connectRatePerSource: a burst from one real source (after the PROXY header) is cut at the bucket, other sources unaffected', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t, {
    config: {
      listeners: [proxied('mqtts'), { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 }],
      // 0.05/s: no token comes back while the test runs, so exactly the burst is admitted.
      limits: { handshakeTimeoutMs: 10_000, connectRatePerSource: { perSecond: 0.05, burst: 5 } },
    },
  })
  const fx = await mqttFixture(tg)
  const attacker = '203.0.113.50'
  const results = await Promise.all(Array.from({ length: 30 }, () => handshake(tg.mqttPort, fx, { source: attacker })))
  for (const r of results) r.socket.destroy()
  const admitted = results.filter((r) => r.outcome === 'tls').length
  t.equal(admitted, 5, 'the burst of 5 got its TLS handshake')
  t.equal(rejected(tg, 'RATE_LIMITED', attacker).length, 25, 'the other 25 refused RATE_LIMITED, audited with the real source')
  t.ok(rejected(tg, 'RATE_LIMITED', attacker).every((e) => e.details.sni === undefined && e.details.proxiedBy === '127.0.0.1'), 'refused before TLS, the balancer recorded')
  t.ok((await rejectedCount(tg, 'RATE_LIMITED')) >= 25, 'counted in portcullis_connections_rejected_total{reason="RATE_LIMITED"}')
  t.equal(rejected(tg, 'RATE_LIMITED', '127.0.0.1').length, 0, 'the balancer itself is not the rated source')

  const other = await connectProxied({ port: tg.mqttPort, header: header('203.0.113.51'), servername: fx.hostname, serverCa: fx.serverCa, cert: await fx.device() })
  t.ok(other.connected, 'another source behind the same balancer connects all the way')
  await other.endAsync()
})

t.test('maxConnectionsPerSource: idle sockets from one address get CONNECTION_LIMIT, another address still connects and /healthz answers', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t, { config: { limits: { handshakeTimeoutMs: 20_000, maxConnectionsPerSource: 5 } } })
  const fx = await mqttFixture(tg)
  const idle = await Promise.all(Array.from({ length: 5 }, () => idleSocket(tg.mqttPort, '127.0.0.5')))
  t.teardown(() => { for (const s of idle) s.destroy() })
  const sixth = await idleSocket(tg.mqttPort, '127.0.0.5')
  const cut = await closedWithin(sixth)
  t.ok(cut < 2000, `the sixth idle socket was closed at once (${cut} ms)`)
  const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.reason === 'CONNECTION_LIMIT')
  t.equal(event.source?.ip, '127.0.0.5')
  t.match(event.details.detail, /maxConnectionsPerSource/)
  t.ok((await rejectedCount(tg, 'CONNECTION_LIMIT')) >= 1, 'counted')

  // A real device from another address: the full TLS + CONNECT + CONNACK path.
  const device = await fx.device()
  const client = await new Promise<MqttClient>((resolve, reject) => {
    const c = new MqttClient(() => tlsConnect({ socket: netConnect({ host: '127.0.0.1', port: tg.mqttPort, localAddress: '127.0.0.6' }), servername: fx.hostname, ca: fx.serverCa, cert: device.cert, key: device.key }), {
      reconnectPeriod: 0, connectTimeout: 5000, clientId: unique('other-source'), protocolVersion: 4,
    })
    c.once('connect', () => resolve(c))
    c.once('error', reject)
  })
  t.ok(client.connected, 'another source connects while the first is at its limit')
  const health = await fetch(`${tg.gateway.adminUrl}/healthz`)
  t.equal(health.status, 200, '/healthz answers')

  idle[0]!.destroy()
  await settle(200)
  const again = await handshake(tg.mqttPort, fx, { localAddress: '127.0.0.5' })
  t.equal(again.outcome, 'tls', 'a closed connection gives its place back')
  again.socket.destroy()
  await client.endAsync()
})

t.test('maxHandshakesInFlight: the excess waits briefly for a slot, then RATE_LIMITED; a freed slot goes to the waiter', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t, {
    config: { limits: { handshakeTimeoutMs: 20_000, maxHandshakesInFlight: 2, handshakeQueueLength: 1, handshakeQueueWaitMs: 400 } },
  })
  const fx = await mqttFixture(tg)
  const idle = await Promise.all([idleSocket(tg.mqttPort), idleSocket(tg.mqttPort)])
  t.teardown(() => { for (const s of idle) s.destroy() })
  await settle(200)

  const queued = await idleSocket(tg.mqttPort)
  await settle(50)
  const overflow = await idleSocket(tg.mqttPort)
  const [queuedMs, overflowMs] = await Promise.all([closedWithin(queued), closedWithin(overflow)])
  t.ok(overflowMs < 350, `with the queue full, refused without waiting (${overflowMs} ms)`)
  t.ok(queuedMs >= 300 && queuedMs < 5000, `the queued one waited about handshakeQueueWaitMs, then was refused (${queuedMs} ms)`)
  const refusals = rejected(tg, 'RATE_LIMITED')
  t.equal(refusals.length, 2)
  t.ok(refusals.every((e) => /maxHandshakesInFlight/.test(String(e.details.detail))))

  // A waiter gets the slot that a finished handshake frees.
  const waiting = handshake(tg.mqttPort, fx)
  await settle(100)
  idle[0]!.destroy()
  const got = await waiting
  t.equal(got.outcome, 'tls', 'the waiter was admitted when a slot was freed')
  got.socket.destroy()
  idle[1]!.destroy()
  await settle(200)
  const client = await fx.connect(await fx.device())
  t.ok(client.connected, 'slots come back once handshakes end')
  await client.endAsync()
})

t.test('failedAuthPerSource: after N bad AMQP passwords from one address it is refused RATE_LIMITED before TLS; others log in', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const tg = await startTestGateway(t, { config: { limits: { handshakeTimeoutMs: 10_000, failedAuthPerSource: { perMinute: 3 } } } })
  const fx = await amqpFixture(tg)
  const url = (creds: { userName: string; password: string }): string =>
    `amqps://${encodeURIComponent(creds.userName)}:${encodeURIComponent(creds.password)}@127.0.0.1:${tg.amqpPort}/`
  const from = (localAddress: string, creds: { userName: string; password: string }) =>
    // amqplib hands its socket options to tls.connect, which takes net's localAddress (untyped there).
    amqplib.connect(url(creds), { ca: [fx.serverCa], servername: fx.hostname, timeout: 5000, localAddress } as Parameters<typeof amqplib.connect>[1])
  const bad = fx.dynamicCredentials({ secret: 'not-the-secret' })
  for (let i = 0; i < 3; i++) {
    await t.rejects(from('127.0.0.7', bad), /ACCESS_REFUSED - BAD_CREDENTIALS/, `bad password ${i + 1}: BAD_CREDENTIALS, in AMQP words`)
  }
  await settle(50)
  await t.rejects(from('127.0.0.7', fx.dynamicCredentials()), 'even the right password is refused now')
  const throttled = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.reason === 'RATE_LIMITED')
  t.equal(throttled.source?.ip, '127.0.0.7')
  t.match(throttled.details.detail, /failed to authenticate 3 times/)
  t.equal(throttled.details.sni, undefined, 'refused before the TLS handshake')
  t.equal(rejected(tg, 'BAD_CREDENTIALS', '127.0.0.7').length, 3, 'no fourth credential check was made')

  const good = await from('127.0.0.8', fx.dynamicCredentials())
  t.pass('another address logs in')
  await good.close()
})

/** MQTT 3.1.1 CONNECT and SUBSCRIBE written by hand over a raw TLS socket that the test stops reading. */
function rawSubscriber(tg: TestGateway, fx: MqttFixture, device: { cert: string; key: string }, topic: string, clientId: string): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: tg.mqttPort, servername: fx.hostname, ca: fx.serverCa, cert: device.cert, key: device.key })
    socket.once('error', reject)
    socket.once('secureConnect', () => {
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 }))
      socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic, qos: 0 }] }))
    })
    const parser = mqttPacket.parser({ protocolVersion: 4 })
    parser.on('packet', (packet) => {
      if (packet.cmd !== 'suback') return
      socket.removeAllListeners('data')
      socket.pause()
      resolve(socket)
    })
    socket.on('data', (chunk: Buffer) => parser.parse(chunk))
  })
}

t.test('slowConsumerTimeoutMs: a subscriber that stops reading while a publisher floods is closed SLOW_CONSUMER within the timeout', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const TIMEOUT = 1500
  const tg = await startTestGateway(t, { config: { limits: { handshakeTimeoutMs: 10_000, slowConsumerTimeoutMs: TIMEOUT } } })
  const fx = await mqttFixture(tg)
  const topic = `portcullis/test/${unique('slow')}`
  const slowId = unique('slow-sub')
  const slow = await rawSubscriber(tg, fx, await fx.device(), topic, slowId)
  t.teardown(() => slow.destroy())
  const reader = await fx.connect(await fx.device())
  await reader.subscribeAsync(topic, { qos: 0 })
  let delivered = 0
  reader.on('message', () => { delivered++ })

  // The publisher talks to Mosquitto directly: only the gateway's broker → subscriber direction is under test.
  const publisher = mqtt.connect({ host: '127.0.0.1', port: 1883, reconnectPeriod: 0, clientId: unique('flood') })
  await new Promise<void>((resolve, reject) => { publisher.once('connect', () => resolve()); publisher.once('error', reject) })
  t.teardown(() => publisher.end(true))
  const payload = Buffer.alloc(128 * 1024, 0x61)
  let flooding = true
  const flood = (async () => {
    while (flooding) {
      for (let i = 0; i < 16; i++) publisher.publish(topic, payload, { qos: 0 })
      await settle(20)
    }
  })()
  const started = Date.now()
  const closed = await tg.waitForEvent((e) => e.type === 'connection.closed' && e.actor.clientId === slowId, 60_000)
  const elapsed = Date.now() - started
  flooding = false
  await flood
  t.equal(closed.reason, 'SLOW_CONSUMER')
  t.ok(elapsed >= TIMEOUT, `not before the timeout (${elapsed} ms)`)
  t.ok(elapsed < TIMEOUT + 30_000, `closed within the timeout once the buffers filled (${elapsed} ms)`)
  t.ok(Number(closed.details.bytesDownstream) > 0, 'it had been receiving')
  t.ok(reader.connected, 'the subscriber that keeps reading is still connected')
  t.ok(delivered > 0, 'and still receives')
  await reader.endAsync()
})
