import t from 'tap'
import { connect as netConnect, type Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import mqttPacket, { type IConnackPacket, type Packet } from 'mqtt-packet'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway } from '../helpers/gateway'
import { mqttFixture } from '../helpers/mqtt-fixture'

/**
 * MQTT 5 CONNECT with a zero-length client id and CleanStart 0, written by hand: mqtt.js 5 refuses
 * to send it ("Missing clientId for unclean clients") and mqtt-packet 9 refuses to generate it,
 * although MQTT 5 §3.1.3.1 makes it valid (the Server assigns the id, [MQTT-3.1.3-6], and returns
 * it as Assigned Client Identifier, §3.2.2.3.7).
 */
function connectV5(clientId: string, cleanStart: boolean, sessionExpiryS = 60): Buffer {
  const id = Buffer.from(clientId, 'utf8')
  const body = Buffer.concat([
    Buffer.from([0x00, 0x04]), Buffer.from('MQTT'), // protocol name
    Buffer.from([0x05]), //                            level 5
    Buffer.from([cleanStart ? 0x02 : 0x00]), //        connect flags: CleanStart only
    Buffer.from([0x00, 0x3c]), //                      keepalive 60
    Buffer.from([0x05, 0x11]), u32(sessionExpiryS), // properties: Session Expiry Interval
    Buffer.from([id.length >> 8, id.length & 0xff]), id, // client id
  ])
  return Buffer.concat([Buffer.from([0x10, body.length]), body])
}

function u32(value: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(value, 0)
  return out
}

const DISCONNECT_V5 = Buffer.from([0xe0, 0x00])

/** Sends the CONNECT and answers the CONNACK the peer sent, as mqtt-packet reads it. */
function connack(socket: Socket | TLSSocket, connect: Buffer, timeoutMs = 10_000): Promise<IConnackPacket> {
  return new Promise((resolve, reject) => {
    const parser = mqttPacket.parser({ protocolVersion: 5 })
    const timer = setTimeout(() => reject(new Error(`no CONNACK within ${timeoutMs} ms`)), timeoutMs)
    parser.on('packet', (p: Packet) => {
      clearTimeout(timer)
      if (p.cmd === 'connack') resolve(p)
      else reject(new Error(`expected CONNACK, got ${p.cmd}`))
    })
    parser.on('error', (err: Error) => { clearTimeout(timer); reject(err) })
    socket.on('data', (d: Buffer) => parser.parse(d))
    socket.once('close', () => { clearTimeout(timer); reject(new Error('closed before CONNACK')) })
    socket.write(connect)
  })
}

function direct(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(1883, '127.0.0.1', () => resolve(socket))
    socket.once('error', reject)
  })
}

t.test('an MQTT 5 client with an empty client id and CleanStart 0 is given an id by the broker, through the gateway as directly', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const baseline = await direct()
  const straight = await connack(baseline, connectV5('', false))
  baseline.end(DISCONNECT_V5)
  t.equal(straight.reasonCode, 0, 'Mosquitto itself accepts it')
  t.match(straight.properties?.assignedClientIdentifier, /.+/, 'and assigns a client identifier')

  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const device = await fx.device()
  const first = await fx.rawTls(device)
  const answer = await connack(first, connectV5('', false))
  t.equal(answer.reasonCode, 0, 'the gateway forwards it and the broker accepts (CONNACK 0, not 0x85)')
  const assigned = answer.properties?.assignedClientIdentifier
  t.match(assigned, /.+/, 'the client learns the identifier the broker assigned')
  t.notOk(answer.sessionPresent, 'a new session')
  const accepted = await tg.waitForEvent((e) => e.type === 'connection.accepted' && e.instanceId === fx.instanceId)
  t.equal(accepted.outcome, 'success', 'audited as an accepted connection')
  first.end(DISCONNECT_V5)
  await new Promise((resolve) => first.once('close', resolve))

  // The session was really kept by the broker under the assigned id (Session Expiry 60 s).
  const again = await fx.rawTls(device)
  const resumed = await connack(again, connectV5(assigned ?? '', false))
  t.equal(resumed.reasonCode, 0, 'reconnecting with the assigned id is accepted')
  t.ok(resumed.sessionPresent, 'and finds the session the broker kept')
  again.end(DISCONNECT_V5)
  await new Promise((resolve) => again.once('close', resolve))

  // Leave nothing behind on the shared broker: a clean start with expiry 0 discards the session.
  const cleanup = await direct()
  t.equal((await connack(cleanup, connectV5(assigned ?? '', true, 0))).reasonCode, 0, 'the test session is discarded')
  cleanup.end(DISCONNECT_V5)
})
