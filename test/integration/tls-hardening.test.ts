import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls'
import { serviceAvailable, type Test } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { directSubscriber, fixtureFor, mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'
import type { KeyAndCert } from '../../src/ca/pki'

/** MQTT 3.1.1 CONNECT for `id` (clean session), and the CONNACK's return code. */
function mqttConnect(socket: TLSSocket, id: string): Promise<number> {
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), Buffer.from([4, 2, 0, 30]), Buffer.from([0, id.length]), Buffer.from(id)])
  socket.write(Buffer.concat([Buffer.from([0x10, body.length]), body]))
  return new Promise((resolve, reject) => {
    socket.once('data', (d: Buffer) => resolve(d[3] as number))
    socket.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

function tls(port: number, fx: MqttFixture, device: KeyAndCert, extra: Partial<ConnectionOptions> = {}): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1', port, servername: fx.hostname, ca: fx.serverCa, cert: device.cert, key: device.key, ...extra,
    })
    socket.once('secureConnect', () => resolve(socket))
    socket.once('error', reject)
  })
}

/** Asks for a TLS 1.2 renegotiation; answers the error it ended with, or undefined if it succeeded. */
function renegotiate(socket: TLSSocket, timeoutMs = 5000): Promise<Error | undefined> {
  return new Promise((resolve) => {
    const finish = (err: Error | undefined): void => {
      clearTimeout(timer)
      socket.off('error', onError)
      socket.off('close', onClose)
      resolve(err)
    }
    const timer = setTimeout(() => finish(new Error('no answer to the renegotiation')), timeoutMs)
    // A refused renegotiation surfaces as a socket error (OpenSSL: "no renegotiation"), not always
    // through renegotiate()'s callback.
    const onError = (err: Error): void => finish(err)
    const onClose = (): void => finish(new Error('closed during the renegotiation'))
    socket.on('error', onError)
    socket.once('close', onClose)
    const started = socket.renegotiate({ rejectUnauthorized: true }, (err) => finish(err ?? undefined))
    if (!started) finish(new Error('renegotiate() refused locally'))
  })
}

function closedSocket(socket: TLSSocket, timeoutMs = 5000): Promise<boolean> {
  socket.on('error', () => {}) // whatever ends it, only the end is checked here
  if (socket.destroyed) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs)
    socket.once('close', () => { clearTimeout(timer); resolve(true) })
  })
}

async function stillServes(t: Test, tg: TestGateway, fx: MqttFixture, device: KeyAndCert): Promise<void> {
  const fresh = await tls(tg.mqttPort, fx, device)
  t.equal(await mqttConnect(fresh, unique('after')), 0, 'the gateway still admits new connections')
  fresh.destroy()
  const health = await fetch(`${tg.gateway.adminUrl}/healthz`)
  t.equal(health.status, 200, '/healthz answers 200')
}

t.test('client-initiated TLS 1.2 renegotiation is refused, before the CONNECT and after the splice', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const device = await fx.device()

  const early = await tls(tg.mqttPort, fx, device, { maxVersion: 'TLSv1.2' })
  t.equal(early.getProtocol(), 'TLSv1.2')
  const earlyStarted = Date.now()
  t.ok(await renegotiate(early), 'a renegotiation before the CONNECT fails')
  t.ok(await closedSocket(early), 'and that connection ends')
  t.ok(Date.now() - earlyStarted < 4_000, 'before the handshake deadline (5 s) would have ended it')
  const refused = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.instanceId === fx.instanceId)
  t.ok(refused.reason, `and is audited as refused (${refused.reason}: ${String(refused.details.detail)}, ${String(refused.time)})`)

  const spliced = await tls(tg.mqttPort, fx, device, { maxVersion: 'TLSv1.2' })
  t.equal(await mqttConnect(spliced, unique('reneg')), 0, 'the device is admitted and spliced')
  const started = Date.now()
  // The attack was renegotiation after renegotiation on one spliced session: the first one fails.
  const failure = await renegotiate(spliced)
  t.ok(failure, `a renegotiation after the splice fails (${failure?.message.trim() ?? 'it succeeded'})`)
  t.ok(await closedSocket(spliced), 'and the session ends')
  t.ok(Date.now() - started < 5_000, `promptly (${Date.now() - started} ms)`)
  const closedEvent = await tg.waitForEvent((e) => e.type === 'connection.closed' && e.instanceId === fx.instanceId)
  t.ok(closedEvent, 'the session is audited as closed')
  await stillServes(t, tg, fx, device)
})

/** Runs a Debian mosquitto_pub; resolves with its exit code and stderr. */
function mosquittoPub(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('mosquitto_pub', args, { timeout: 20_000 }, (err, _stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stderr })
    })
  })
}

async function mosquittoClientsInstalled(t: Test): Promise<boolean> {
  const found = await new Promise<boolean>((resolve) => execFile('mosquitto_pub', ['--help'], () => resolve(true)).on('error', () => resolve(false)))
  if (found) return true
  const message = 'mosquitto_pub is not installed (Debian package mosquitto-clients)'
  if (process.env.PORTCULLIS_REQUIRE_SERVICES === '1') t.fail(message)
  else {
    process.stderr.write(`\n*** SKIPPED: ${message} ***\n`)
    t.pass('needs mosquitto_pub', { skip: message })
  }
  return false
}

t.test('SNI: an IP literal counts as none, an unknown name falls back to the listener\'s defaultInstance', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  if (!(await mosquittoClientsInstalled(t))) return
  // Two MQTT instances, so that "the only MQTT instance" cannot be what admits the device: the
  // listener's defaultInstance is.
  const defaultId = unique('mq-default')
  const tg = await startTestGateway(t, {
    config: { listeners: [{ name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0, defaultInstance: defaultId }, { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 }] },
  })
  const other = await mqttFixture(tg)
  const created = await tg.admin('POST', '/v1/instances', {
    id: defaultId, protocol: 'mqtt', hostnames: [`${defaultId}.portcullis.local`], backend: { kind: 'tcp', host: '127.0.0.1', port: 1883 },
  })
  t.equal(created.status, 201, 'the default instance exists')
  const fx = fixtureFor(tg, { instanceId: defaultId, hostname: `${defaultId}.portcullis.local`, ca: other.ca })
  // Register the CA on the default instance too (a CA may be registered on several instances).
  t.equal((await fx.registerCa(other.ca)).status, 201)
  const device = await fx.device()

  const dir = mkdtempSync(join(tmpdir(), 'portcullis-tls-hardening-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'server-ca.pem'), fx.serverCa)
  writeFileSync(join(dir, 'device.pem'), device.cert)
  writeFileSync(join(dir, 'device.key'), device.key, { mode: 0o600 })
  const topic = unique('portcullis-tls/sni')
  const subscriber = await directSubscriber(topic)
  t.teardown(() => { subscriber.client.end(true) })
  const tlsArgs = ['-p', String(tg.mqttPort), '--cafile', join(dir, 'server-ca.pem'), '--cert', join(dir, 'device.pem'), '--key', join(dir, 'device.key'), '-t', topic, '-q', '1']

  // libmosquitto sends the connect host as SNI even when it is an address (RFC 6066 §3 forbids it).
  const byAddress = await mosquittoPub(['-h', '127.0.0.1', '-i', unique('pub-ip'), '-m', 'by-address', ...tlsArgs])
  t.equal(byAddress.code, 0, `mosquitto_pub -h 127.0.0.1 is admitted (${byAddress.stderr.trim()})`)
  t.equal((await subscriber.next(10_000)).payload.toString(), 'by-address', 'and its message reaches the broker')
  const accepted = await tg.waitForEvent((e) => e.type === 'connection.accepted' && e.instanceId === defaultId)
  t.ok(accepted, 'under the default instance')

  // `localhost` is in the server certificate but names no instance.
  const byName = await mosquittoPub(['-h', 'localhost', '-i', unique('pub-name'), '-m', 'by-unknown-name', ...tlsArgs])
  t.equal(byName.code, 0, `an unknown SNI falls back to the default instance (${byName.stderr.trim()})`)
  t.equal((await subscriber.next(10_000)).payload.toString(), 'by-unknown-name', 'and its message reaches the broker')

  // A name that does name an instance is still served by that instance, not the default one.
  const named = await tls(tg.mqttPort, other, await other.device())
  t.equal(await mqttConnect(named, unique('named')), 0, 'a known SNI is served by its own instance')
  named.destroy()
  await tg.waitForEvent((e) => e.type === 'connection.accepted' && e.instanceId === other.instanceId)
})

t.test('an unknown SNI is still refused UNKNOWN_INSTANCE on a listener without defaultInstance', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const device = await fx.device()
  const servername = `${unique('nobody')}.portcullis.local`
  const err = await tls(tg.mqttPort, fx, device, { servername }).then((s) => { s.destroy(); return undefined }, (e: Error) => e)
  t.ok(err, 'the handshake is aborted')
  const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.reason === 'UNKNOWN_INSTANCE')
  t.match(String(event.details.detail), servername, 'audited with the name the client sent')
})
