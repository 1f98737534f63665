/**
 * Certificate rotation without dropping sessions (DESIGN §4 "Operations and keys"): under 50 live
 * MQTT sessions through a real gateway to the local Mosquitto, the default certificate files are
 * replaced (the watcher picks them up), and separately an instance's serverCertificate is PATCHed.
 * No session drops (each still publishes QoS 1 afterwards), a new handshake presents the new
 * certificate, the rotation is counted and audited, and a TLS session ticket issued before the
 * rotation still resumes (the ticket keys did not change).
 */
import t from 'tap'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type { MqttClient } from 'mqtt'
import { createCa, createLeaf, DEV_SERVER_DNS_NAMES, DEV_SERVER_IP_ADDRESSES, type KeyAndCert } from '../../src/ca/pki'
import { certificateFacts } from '../../src/tls/certificate-facts'
import { CERTIFICATE_ROTATED } from '../../src/tls/server-certificates'
import { serviceAvailable, type Test } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { directSubscriber, mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'

const SESSIONS = 50

interface Probe {
  socket: TLSSocket
  /** SHA-256 of the certificate the gateway presented, lowercase hex (certificate-facts.ts form). */
  fingerprint: string
  reused: boolean
  ticket: Promise<Buffer>
}

/** A raw TLS handshake as a device makes it, then an MQTT 3.1.1 CONNECT that must be admitted. */
async function probe(t: Test, tg: TestGateway, o: { servername: string; ca: string; device: KeyAndCert; session?: Buffer }): Promise<Probe> {
  const socket = await new Promise<TLSSocket>((resolve, reject) => {
    const s = tlsConnect({
      host: '127.0.0.1', port: tg.mqttPort, servername: o.servername, ca: o.ca, cert: o.device.cert, key: o.device.key,
      ...(o.session !== undefined ? { session: o.session } : {}),
    })
    s.once('secureConnect', () => resolve(s))
    s.once('error', reject)
  })
  t.teardown(() => socket.destroy())
  const ticket = new Promise<Buffer>((resolve) => socket.once('session', resolve))
  const id = unique('probe')
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 30]), Buffer.from([0, id.length]), Buffer.from(id)])
  socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]))
  const connack = await new Promise<Buffer>((resolve) => socket.once('data', resolve))
  t.equal(connack[3], 0, `the probe on ${o.servername} is admitted`)
  // A resumed session sends no certificate (RFC 8446 §2.2): then there is none to read.
  const fingerprint = (socket.getPeerCertificate().fingerprint256 ?? '').replaceAll(':', '').toLowerCase()
  return { socket, fingerprint, reused: socket.isSessionReused(), ticket }
}

/** SESSIONS live mqtt.js sessions under one device certificate, each with its own client id. */
async function liveSessions(t: Test, fx: MqttFixture, device: KeyAndCert): Promise<{ clients: MqttClient[]; drops: () => number }> {
  let dropped = 0
  // The first one registers the device (autoRegisterDevices); the rest then find it.
  const clients = [await fx.connect(device)]
  while (clients.length < SESSIONS) {
    clients.push(...await Promise.all(Array.from({ length: Math.min(10, SESSIONS - clients.length) }, () => fx.connect(device))))
  }
  for (const c of clients) {
    c.on('close', () => { dropped++ })
    t.teardown(() => { c.end(true) })
  }
  return { clients, drops: () => dropped }
}

/** Every session publishes one QoS 1 message (its PUBACK comes from Mosquitto), all arrive. */
async function everyonePublishes(t: Test, clients: MqttClient[], topic: string): Promise<void> {
  const sub = await directSubscriber(`${topic}/#`)
  t.teardown(() => { sub.client.end(true) })
  const acks = await Promise.allSettled(clients.map((c, i) => c.publishAsync(`${topic}/${i}`, `after rotation ${i}`, { qos: 1 })))
  t.equal(acks.filter((a) => a.status === 'fulfilled').length, SESSIONS, `all ${SESSIONS} sessions publish QoS 1 after the rotation`)
  const seen = new Set<string>()
  for (let i = 0; i < SESSIONS; i++) seen.add((await sub.next(5000)).topic)
  t.equal(seen.size, SESSIONS, 'and the broker received each message')
}

async function metricsText(tg: TestGateway): Promise<string> {
  return (await fetch(`${tg.gateway.adminUrl}/metrics`)).text()
}

function seriesValue(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

t.test('the default certificate files replaced under 50 live sessions', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const device = await fx.device()
  const before = await probe(t, tg, { servername: fx.hostname, ca: fx.serverCa, device })
  const ticket = await before.ticket
  before.socket.destroy()
  const { clients, drops } = await liveSessions(t, fx, device)

  // A renewal as cert-manager or certbot writes it: a new key and certificate, each renamed into place.
  const newServerCa = await createCa({ commonName: 'Rotated Server CA', pathLength: 0 })
  const renewed = await createLeaf({ commonName: 'localhost', issuer: newServerCa, kind: 'server', dnsNames: DEV_SERVER_DNS_NAMES, ipAddresses: DEV_SERVER_IP_ADDRESSES })
  const renewedFacts = certificateFacts(renewed.cert)
  t.not(renewedFacts.fingerprint, before.fingerprint)
  for (const [file, pem] of [['server.key', renewed.key], ['server.pem', renewed.cert]] as const) {
    writeFileSync(join(tg.certsDir, `${file}.new`), pem, { mode: 0o600 })
    renameSync(join(tg.certsDir, `${file}.new`), join(tg.certsDir, file))
  }
  const event = await tg.waitForEvent((e) => e.type === CERTIFICATE_ROTATED, 15_000)
  t.same(event.details, {
    instance: '-', kind: 'server', source: 'files',
    fingerprintBefore: before.fingerprint, fingerprintAfter: renewedFacts.fingerprint, notAfter: renewedFacts.notAfter,
  }, 'the rotation is audited with both fingerprints and the new notAfter')
  t.notMatch(JSON.stringify(event), /PRIVATE KEY/, 'and no key material')

  const after = await probe(t, tg, { servername: fx.hostname, ca: newServerCa.cert, device })
  t.equal(after.fingerprint, renewedFacts.fingerprint, 'a new handshake presents the new certificate')
  t.notOk(after.reused)
  const resumed = await probe(t, tg, { servername: fx.hostname, ca: fx.serverCa, device, session: ticket })
  t.ok(resumed.reused, 'a ticket from before the rotation still resumes (same ticket keys)')

  await everyonePublishes(t, clients, unique('rotation/default'))
  t.equal(drops(), 0, 'no live session dropped')
  t.equal(tg.gateway.sessions.size >= SESSIONS, true, 'the gateway still holds them')

  const text = await metricsText(tg)
  t.equal(seriesValue(text, 'portcullis_certificate_rotations_total', 'instance="-",kind="server"'), 1, 'the rotation is counted')
  t.equal(seriesValue(text, 'portcullis_certificate_expiry_seconds', 'instance="-",kind="server"'), renewedFacts.notAfterSeconds, 'the expiry gauge shows the new certificate')
  t.ok((seriesValue(text, 'portcullis_certificate_expiry_seconds', `instance="${fx.instanceId}",kind="ca"`) ?? 0) > Date.now() / 1000, 'the registered CA has its expiry too')
  t.notMatch(text, /portcullis_ca_certificate_not_after_seconds/)
})

t.test('an instance\'s serverCertificate PATCHed under 50 live sessions', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const device = await fx.device()
  const before = await probe(t, tg, { servername: fx.hostname, ca: fx.serverCa, device })
  const ticket = await before.ticket
  before.socket.destroy()
  const { clients, drops } = await liveSessions(t, fx, device)

  const ownCa = await createCa({ commonName: `${fx.instanceId} server CA`, pathLength: 0 })
  const own = await createLeaf({ commonName: fx.hostname, issuer: ownCa, kind: 'server', dnsNames: [fx.hostname] })
  const ownFacts = certificateFacts(own.cert)
  const patched = await tg.admin('PATCH', `/v1/instances/${fx.instanceId}`, { serverCertificate: { certificate: own.cert, privateKey: own.key } })
  t.equal(patched.status, 200, `the PATCH is taken ${patched.status === 200 ? '' : JSON.stringify(patched.body)}`)
  const event = await tg.waitForEvent((e) => e.type === CERTIFICATE_ROTATED && e.instanceId === fx.instanceId)
  t.match(event.details, { instance: fx.instanceId, source: 'instance', fingerprintBefore: before.fingerprint, fingerprintAfter: ownFacts.fingerprint, notAfter: ownFacts.notAfter })

  const after = await probe(t, tg, { servername: fx.hostname, ca: ownCa.cert, device })
  t.equal(after.fingerprint, ownFacts.fingerprint, 'a new handshake on the instance\'s name presents its new certificate')
  const resumed = await probe(t, tg, { servername: fx.hostname, ca: fx.serverCa, device, session: ticket })
  t.ok(resumed.reused, 'a ticket from before the PATCH still resumes on that instance')

  await everyonePublishes(t, clients, unique('rotation/instance'))
  t.equal(drops(), 0, 'no live session dropped')

  const text = await metricsText(tg)
  t.equal(seriesValue(text, 'portcullis_certificate_rotations_total', `instance="${fx.instanceId}",kind="server"`), 1, 'the rotation is counted under the instance')
  t.equal(seriesValue(text, 'portcullis_certificate_expiry_seconds', `instance="${fx.instanceId}",kind="server"`), ownFacts.notAfterSeconds)
  t.equal(seriesValue(text, 'portcullis_certificate_rotations_total', 'instance="-",kind="server"'), undefined, 'the default certificate did not rotate')
})
