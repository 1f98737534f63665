import t from 'tap'
import { randomBytes } from 'node:crypto'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway } from '../helpers/gateway'
import { mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'
import type { KeyAndCert } from '../../src/ca/pki'

/** A TLS connection that answers whether it resumed, and the session ticket it was given. */
function handshake(port: number, fx: MqttFixture, cert: KeyAndCert, session?: Buffer): Promise<{ socket: TLSSocket; reused: boolean; ticket: Promise<Buffer> }> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1', port, servername: fx.hostname, ca: fx.serverCa, cert: cert.cert, key: cert.key, ...(session ? { session } : {}),
    })
    const ticket = new Promise<Buffer>((r) => socket.once('session', r))
    socket.once('secureConnect', () => resolve({ socket, reused: socket.isSessionReused(), ticket }))
    socket.once('error', reject)
  })
}

/** MQTT 3.1.1 CONNECT for client id `id`, then the CONNACK's return code. */
function connectOver(socket: TLSSocket, id: string): Promise<number> {
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 30]), Buffer.from([0, id.length]), Buffer.from(id)])
  socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]))
  return new Promise((resolve) => socket.once('data', (d: Buffer) => resolve(d[3] as number)))
}

t.test('TLS sessions resume, across gateway processes that share the master key', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const masterKey = randomBytes(32).toString('base64')
  const first = await startTestGateway(t, { masterKey })
  const fx = await mqttFixture(first)
  const device = await fx.device()

  const full = await handshake(first.mqttPort, fx, device)
  t.notOk(full.reused, 'the first handshake is a full one')
  t.equal(await connectOver(full.socket, 'resume-1'), 0, 'and the device is admitted')
  const ticket = await full.ticket
  full.socket.destroy()

  const resumed = await handshake(first.mqttPort, fx, device, ticket)
  t.ok(resumed.reused, 'the reconnect resumes the session from its ticket')
  t.equal(await connectOver(resumed.socket, 'resume-2'), 0, 'and the resumed session still carries the device certificate')
  resumed.socket.destroy()

  // The ticket does not carry the tenant: a session resumed under another instance's name is
  // checked against that instance, whose registry does not know this device's CA.
  const other = await mqttFixture(first)
  const crossed = await handshake(first.mqttPort, other, device, ticket)
  t.ok(crossed.reused, 'the ticket resumes under another SNI')
  t.equal(await connectOver(crossed.socket, 'resume-3'), 5, 'but the device is refused there (not authorized)')
  const event = await first.waitForEvent((e) => e.type === 'connection.rejected' && e.instanceId === other.instanceId)
  t.equal(event.reason, 'CLIENT_CERT_UNTRUSTED')
  crossed.socket.destroy()

  // Another process on the same data: what replicas on one Redis, or cluster workers, are.
  const second = await startTestGateway(t, { masterKey, certsDir: first.certsDir })
  await second.admin('POST', '/v1/instances', {
    id: fx.instanceId, protocol: 'mqtt', hostnames: [fx.hostname], backend: { kind: 'tcp', host: '127.0.0.1', port: 1883 },
  })
  const elsewhere = await handshake(second.mqttPort, fx, device, ticket)
  t.ok(elsewhere.reused, 'another gateway process with the same master key resumes it too')
  elsewhere.socket.destroy()

  const stranger = await startTestGateway(t, { certsDir: first.certsDir })
  await stranger.admin('POST', '/v1/instances', {
    id: fx.instanceId, protocol: 'mqtt', hostnames: [fx.hostname], backend: { kind: 'tcp', host: '127.0.0.1', port: 1883 },
  })
  const refused = await handshake(stranger.mqttPort, fx, device, ticket)
  t.notOk(refused.reused, 'a process with another master key makes a full handshake instead')
  refused.socket.destroy()
})
