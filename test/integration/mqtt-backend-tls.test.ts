import t from 'tap'
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt from 'mqtt'
import { serviceAvailable, portOpen, unusedPort } from '../helpers/services'
import { startTestGateway, unique } from '../helpers/gateway'
import { fixtureFor } from '../helpers/mqtt-fixture'
import { createCa, createLeaf } from '../../src/ca/pki'

/**
 * A second, real Mosquitto that speaks only TLS and wants a username/password: the gateway must
 * reach it over verified TLS and log in with the instance's backend credentials on the device's
 * behalf (options.replaceBackendCredentials).
 */
t.test('a backend Mosquitto over TLS with its own credentials', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-mosq-tls-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const brokerCa = await createCa({ commonName: 'backend broker CA' })
  const brokerCert = await createLeaf({ commonName: 'localhost', issuer: brokerCa, kind: 'server', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] })
  writeFileSync(join(dir, 'server.pem'), brokerCert.cert)
  writeFileSync(join(dir, 'server.key'), brokerCert.key, { mode: 0o600 })
  execFileSync('mosquitto_passwd', ['-b', '-c', join(dir, 'passwords'), 'gateway', 'backend-secret'])
  const port = await unusedPort()
  writeFileSync(join(dir, 'mosquitto.conf'), [
    'user root',
    'persistence false',
    'log_dest none',
    `listener ${port} 127.0.0.1`,
    `certfile ${join(dir, 'server.pem')}`,
    `keyfile ${join(dir, 'server.key')}`,
    'allow_anonymous false',
    `password_file ${join(dir, 'passwords')}`,
  ].join('\n') + '\n')
  const broker = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' })
  t.teardown(() => { broker.kill('SIGTERM') })
  for (let i = 0; i < 50 && !(await portOpen(port)); i++) await new Promise((r) => setTimeout(r, 100))

  const tg = await startTestGateway(t)
  const make = async (replace: boolean) => {
    const instanceId = unique('mq-tls')
    const hostname = `${instanceId}.portcullis.local`
    const res = await tg.admin('POST', '/v1/instances', {
      id: instanceId, protocol: 'mqtt', hostnames: [hostname],
      backend: { kind: 'tcp', host: '127.0.0.1', port, tls: { ca: brokerCa.cert, servername: 'localhost' }, username: 'gateway', password: 'backend-secret' },
      options: { replaceBackendCredentials: replace },
    })
    t.equal(res.status, 201)
    t.notMatch(JSON.stringify(res.body), 'backend-secret', 'the backend password is never answered')
    const ca = await createCa({ commonName: `${instanceId} CA` })
    const fx = fixtureFor(tg, { instanceId, hostname, ca })
    t.equal((await fx.registerCa(ca)).status, 201)
    return fx
  }

  t.test('devices publish through the gateway to the TLS backend, logged in as the instance', async (t) => {
    const fx = await make(true)
    const topic = `portcullis-test/${unique('tls')}`
    const watcher = mqtt.connect({
      protocol: 'mqtts', host: '127.0.0.1', port, servername: 'localhost', ca: brokerCa.cert,
      username: 'gateway', password: 'backend-secret', reconnectPeriod: 0,
    })
    t.teardown(() => watcher.end(true))
    await new Promise<void>((resolve, reject) => { watcher.once('connect', () => resolve()); watcher.once('error', reject) })
    await watcher.subscribeAsync(topic, { qos: 1 })
    const got = new Promise<string>((resolve) => watcher.once('message', (_t, p) => resolve(p.toString())))
    const device = await fx.connect(await fx.device(), { username: 'device-says-anything', password: 'wrong' })
    await device.publishAsync(topic, 'over TLS', { qos: 1 })
    t.equal(await got, 'over TLS')
    await device.endAsync()
  })

  t.test('without credential replacement the backend refuses the device itself', async (t) => {
    const fx = await make(false)
    const err = await fx.connect(await fx.device()).then((c) => { c.end(true); return undefined }, (e: Error & { code?: number }) => e)
    t.equal(err?.code, 5, "the backend's own CONNACK (not authorized) comes back through the splice")
  })
})
