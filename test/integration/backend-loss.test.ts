/**
 * The broker dies under a live session: the client is told so in its protocol before the close
 * (MQTT 5 DISCONNECT 0x80 "BACKEND_UNAVAILABLE", AMQP Connection.Close 320), and the session ends
 * BACKEND_CLOSED. Real brokers, killed for real: a Mosquitto this test starts on a free port, and
 * a socat relay in front of the machine's RabbitMQ.
 */
import { spawn } from 'node:child_process'
import t from 'tap'
import type { IDisconnectPacket } from 'mqtt'
import { portOpen, serviceAvailable, unusedPort } from '../helpers/services'
import { startTestGateway, unique } from '../helpers/gateway'
import { fixtureFor } from '../helpers/mqtt-fixture'
import { amqpFixture } from '../helpers/amqp-fixture'
import { startSocatRelay } from '../helpers/socat-relay'
import { createCa } from '../../src/ca/pki'

/** `promise`, or a rejection naming `what` after `ms`: a missing goodbye fails the test, not the run. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what} not within ${ms} ms`)), ms) })
  return Promise.race([promise, late]).finally(() => clearTimeout(timer))
}

async function startMosquitto(t: tap.Test): Promise<{ port: number; kill(): Promise<void> }> {
  const port = await unusedPort()
  const child = spawn('mosquitto', ['-p', String(port)], { stdio: 'ignore' })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const kill = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  }
  t.teardown(kill)
  const deadline = Date.now() + 5_000
  while (!(await portOpen(port))) {
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return { port, kill }
}

t.test('an MQTT 5 session whose broker dies gets DISCONNECT 0x80 BACKEND_UNAVAILABLE before the close', async (t) => {
  const broker = await startMosquitto(t)
  const tg = await startTestGateway(t)
  const instanceId = unique('mq-loss')
  const hostname = `${instanceId}.portcullis.local`
  const created = await tg.admin('POST', '/v1/instances', { id: instanceId, protocol: 'mqtt', hostnames: [hostname], backend: { kind: 'tcp', host: '127.0.0.1', port: broker.port } })
  t.equal(created.status, 201)
  const fx = fixtureFor(tg, { instanceId, hostname, ca: await createCa({ commonName: `${instanceId} CA` }) })
  t.equal((await fx.registerCa(fx.ca)).status, 201)

  const v5 = await fx.connect(await fx.device(), { protocolVersion: 5 })
  const v4 = await fx.connect(await fx.device(), { protocolVersion: 4 })
  const disconnect = new Promise<IDisconnectPacket>((resolve) => v5.once('disconnect', resolve))
  const v4Closed = new Promise<void>((resolve) => v4.stream.once('close', () => resolve()))
  let v4Disconnects = 0
  v4.on('disconnect', () => { v4Disconnects++ })
  await broker.kill()

  const packet = await within(disconnect, 10_000, 'DISCONNECT')
  t.equal(packet.reasonCode, 0x80, 'unspecified error (MQTT 5 §3.14.2.1)')
  t.equal(packet.properties?.reasonString, 'BACKEND_UNAVAILABLE')
  await within(v4Closed, 10_000, 'close of the 3.1.1 session')
  t.equal(v4Disconnects, 0, 'MQTT 3.1.1 has no server DISCONNECT: just closed')
  const closed = await tg.waitForEvent((e) => e.type === 'connection.closed' && e.actor.clientId === v5.options.clientId)
  t.equal(closed.reason, 'BACKEND_CLOSED')
  v5.end(true)
  v4.end(true)
})

t.test('an AMQP session whose broker goes away gets Connection.Close 320 CONNECTION_FORCED - BACKEND_UNAVAILABLE', async (t) => {
  if (!(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const relay = await startSocatRelay(5672)
  t.teardown(() => relay.kill())
  const tg = await startTestGateway(t)
  const fx = await amqpFixture(tg, { backendPort: relay.port })
  const conn = await fx.connect(fx.dynamicCredentials())
  conn.on('error', () => undefined)
  // amqplib reports a server Close that is not a fatal error (320 is not) as the 'close' event's error.
  const closed = new Promise<(Error & { code?: number }) | undefined>((resolve) => conn.once('close', resolve))
  await relay.kill()
  const err = await within(closed, 10_000, 'Connection.Close')
  t.equal(err?.code, 320, 'connection-forced (AMQP 0-9-1 §1.2)')
  t.match(err?.message, /CONNECTION_FORCED - BACKEND_UNAVAILABLE/)
  const event = await tg.waitForEvent((e) => e.type === 'connection.closed' && e.instanceId === fx.instanceId)
  t.equal(event.reason, 'BACKEND_CLOSED')
})
