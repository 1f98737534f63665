import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { connect as netConnect } from 'node:net'
import type { IDisconnectPacket, MqttClient } from 'mqtt'
import { parse, stringify } from 'yaml'
import { deleteRedisKeys, serviceAvailable } from '../helpers/services'
import { unique, type TestGateway } from '../helpers/gateway'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { closed, fixtureFor, mqttFixture } from '../helpers/mqtt-fixture'
import { writeDevPki } from '../../src/ca/pki'
import { amqpFixture } from '../helpers/amqp-fixture'
import { valueWithin } from '../helpers/wait'

/**
 * Config reload with a real gateway process on a config file (DESIGN §4 "Operations and keys"):
 * SIGHUP and POST /v1/config/reload, a broken file refused while serving goes on, a listener added
 * and removed while a live MQTT session (mqtt.js → gateway → local Mosquitto) on another listener
 * keeps working.
 */
function view(g: GatewayProcess, mqttPort: number, certsDir: string): TestGateway {
  return { admin: g.admin, mqttPort, amqpPort: g.ports.amqps, certsDir } as unknown as TestGateway
}

/** Publishes through the client and waits for its own subscription to deliver it: the session works end to end. */
async function roundTrip(client: MqttClient, topic: string): Promise<void> {
  const payload = randomBytes(8).toString('hex')
  const got = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no echo on ${topic}`)), 5000)
    const onMessage = (tp: string, body: Buffer): void => {
      if (tp !== topic || body.toString() !== payload) return
      clearTimeout(timer)
      client.off('message', onMessage)
      resolve()
    }
    client.on('message', onMessage)
  })
  await client.publishAsync(topic, payload, { qos: 1 })
  await got
}

/** Resolves with the first stderr text matching `pattern` from now on. */
function nextLine(g: GatewayProcess, pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = ''
    const timer = setTimeout(() => {
      g.child.stderr?.off('data', onData)
      reject(new Error(`no ${pattern} on stderr within ${timeoutMs} ms; saw:\n${seen}`))
    }, timeoutMs)
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString()
      const m = pattern.exec(seen)
      if (m === null) return
      clearTimeout(timer)
      g.child.stderr?.off('data', onData)
      resolve(m)
    }
    g.child.stderr?.on('data', onData)
  })
}

async function metric(g: GatewayProcess, result: string): Promise<number> {
  const text = await (await fetch(`${g.adminUrl}/metrics`)).text()
  const m = new RegExp(`^portcullis_config_reloads_total\\{result="${result}"\\} (\\d+)$`, 'm').exec(text)
  return m === null ? Number.NaN : Number(m[1])
}

function auditEvents(dir: string, type: string): Array<Record<string, any>> {
  return readFileSync(join(dir, 'r-audit.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, any>).filter((e) => e.type === type)
}

t.test('config reload on a running gateway process', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await serviceAvailable(t, 'mosquitto', 1883)) || !(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-reload-'))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const redisPrefix = `portcullis-test:${unique('reload')}:`
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTRELOADTEST',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
    PORTCULLIS_MASTER_KEY_ID: 'reload-test-key',
  }
  const g = await startGatewayProcess({ name: 'r', dir, certsDir, redisPrefix, env, config: { shutdown: { readinessDelayMs: 0, drainTimeoutMs: 2000 } } })
  const configFile = join(dir, 'r.yaml')
  const original = parse(readFileSync(configFile, 'utf8')) as Record<string, any>
  const writeConfig = (doc: unknown): void => writeFileSync(configFile, typeof doc === 'string' ? doc : stringify(doc))
  const clients: MqttClient[] = []
  t.teardown(async () => {
    for (const c of clients) c.end(true)
    await g.stop()
    await deleteRedisKeys(redisPrefix)
    rmSync(dir, { recursive: true, force: true })
  })

  const fx = await mqttFixture(view(g, g.ports.mqtts as number, certsDir))
  const live = await fx.connect(await fx.device('live-through-reloads'))
  clients.push(live)
  const topic = `reload/${unique('t')}`
  await live.subscribeAsync(topic, { qos: 1 })
  await roundTrip(live, topic)
  // And a live AMQP session (amqplib → gateway → local RabbitMQ) on the other listener.
  const amqp = await amqpFixture(view(g, g.ports.mqtts as number, certsDir))
  const amqpLive = await amqp.connect(amqp.dynamicCredentials())
  t.teardown(() => amqpLive.close().catch(() => undefined))
  const amqpChannel = await amqpLive.createChannel()
  const amqpQueue = unique('reload-q')
  await amqpChannel.assertQueue(amqpQueue, { durable: false, autoDelete: true })
  const amqpRoundTrip = async (): Promise<void> => {
    const body = randomBytes(6).toString('hex')
    amqpChannel.sendToQueue(amqpQueue, Buffer.from(body))
    const got = await valueWithin(() => amqpChannel.get(amqpQueue, { noAck: true }), 5000, 'the AMQP message')
    if (got.content.toString() !== body) throw new Error('the AMQP session delivered something else')
  }
  await amqpRoundTrip()

  await t.test('SIGHUP with a broken file keeps serving and says why', async (t) => {
    writeConfig({ ...original, listeners: [{ ...original.listeners[0], port: 'eighty' }, original.listeners[1]] })
    const said = nextLine(g, /config not reloaded, the running config is kept: ([^\n]*\n[^\n]*)/)
    g.child.kill('SIGHUP')
    const [, why] = await said
    t.match(why, /listeners\.0\.port/, 'the message names the key')
    t.ok(live.connected, 'the live session is untouched')
    await roundTrip(live, topic)
    const fresh = await fx.connect(await fx.device('new-after-broken-sighup'))
    clients.push(fresh)
    t.ok(fresh.connected, 'new connections are still served on the running config')
    t.equal(await metric(g, 'invalid'), 1)
    const [event] = auditEvents(dir, 'admin.config.reload')
    t.match(event, { outcome: 'failure', reason: 'CONFIG_INVALID', actor: { kind: 'system', id: 'SIGHUP' }, details: { trigger: 'signal', applied: [] } })
  })

  await t.test('POST /v1/config/reload with a broken file answers 400 CONFIG_INVALID naming the key', async (t) => {
    writeConfig({ ...original, tls: { ...original.tls, profile: 'ancient' } })
    const res = await g.admin('POST', '/v1/config/reload')
    t.equal(res.status, 400)
    t.equal(res.body.code, 'CONFIG_INVALID')
    t.match(res.body.message, /tls\.profile/)
    t.same(res.body.applied, [])
    writeConfig(': not: [yaml')
    const yaml = await g.admin('POST', '/v1/config/reload')
    t.equal(yaml.status, 400)
    t.match(yaml.body.message, /not valid YAML/)
    t.equal(await metric(g, 'invalid'), 3)
    await roundTrip(live, topic)
  })

  let extraPort = 0
  await t.test('a SIGHUP adding a listener serves it while the live MQTT and AMQP sessions on the others continue', async (t) => {
    writeConfig({ ...original, listeners: [...original.listeners, { name: 'extra', protocol: 'mqtt', host: '127.0.0.1', port: 0 }], log: { level: 'info' } })
    const announced = nextLine(g, /listener extra on [\d.]+:(\d+)/)
    const reloaded = nextLine(g, /config reloaded: ([^\n]*)/)
    g.child.kill('SIGHUP')
    const [, applied] = await reloaded
    t.match(applied, /listeners\[extra\]/)
    t.match(applied, /log\.level/)
    extraPort = Number((await announced)[1])
    t.ok(extraPort > 0)
    const onExtra = fixtureFor(view(g, extraPort, certsDir), fx)
    const device = await onExtra.connect(await onExtra.device('on-the-added-listener'))
    clients.push(device)
    const extraTopic = `reload/${unique('x')}`
    await device.subscribeAsync(extraTopic, { qos: 1 })
    await roundTrip(device, extraTopic)
    t.ok(live.connected, 'the session on mqtts was not dropped')
    await roundTrip(live, topic)
    await amqpRoundTrip()
    t.pass('the AMQP session on amqps goes on delivering')
    t.equal(await metric(g, 'success'), 1)
    const event = auditEvents(dir, 'admin.config.reload').at(-1)
    t.match(event, { outcome: 'success', details: { trigger: 'signal', changes: [{ path: 'listeners[extra]', kind: 'added' }, { path: 'log.level', before: 'warn', after: 'info' }] } })
  })

  await t.test('POST /v1/config/reload removing it ends its sessions with the goodbye and leaves the others', async (t) => {
    const onExtra = fixtureFor(view(g, extraPort, certsDir), fx)
    const doomed = await onExtra.connect(await onExtra.device('on-the-removed-listener'), { protocolVersion: 5 })
    clients.push(doomed)
    const goodbye = new Promise<IDisconnectPacket>((resolve) => doomed.once('disconnect', resolve))
    writeConfig({ ...original, admin: { ...original.admin, port: 1 }, log: { level: 'info' } })
    const gone = closed(doomed, 5000)
    const res = await g.admin('POST', '/v1/config/reload')
    t.equal(res.status, 200)
    t.same(res.body.applied, ['listeners[extra]'])
    t.same(res.body.restartNeeded, ['admin.port'], 'the admin address is read at start')
    t.match(res.body.message, /restart/)
    t.notOk('extra' in res.body.listeners)
    t.equal(res.body.listeners.mqtts.port, g.ports.mqtts)
    t.equal((await goodbye).reasonCode, 0x8b, 'its MQTT 5 session gets DISCONNECT 0x8B (server shutting down, MQTT 5 §3.14.2.1)')
    await gone
    await t.rejects(onExtra.connect(await onExtra.device('too-late')), 'the removed listener accepts nothing')
    t.ok(live.connected)
    await roundTrip(live, topic)
    await amqpRoundTrip()
    const event = auditEvents(dir, 'admin.config.reload').at(-1)
    t.match(event, { outcome: 'success', actor: { kind: 'accessKey', id: 'PCROOTRELOADTEST' }, details: { trigger: 'admin', restartNeeded: ['admin.port'] } })
  })
})

t.test('with workers: 2, a SIGHUP to the primary reloads every worker: the added listener is served by both, live sessions continue', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379)) || !(await serviceAvailable(t, 'mosquitto', 1883))) return
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-reload-workers-'))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const redisPrefix = `portcullis-test:${unique('reloadw')}:`
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTRELOADWORKERS',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
    PORTCULLIS_MASTER_KEY_ID: 'reload-workers-key',
  }
  const g = await startGatewayProcess({ name: 'w', dir, certsDir, redisPrefix, env, config: { workers: 2, log: { level: 'info' }, shutdown: { readinessDelayMs: 0, drainTimeoutMs: 2000 } } })
  const clients: MqttClient[] = []
  t.teardown(async () => {
    for (const c of clients) c.end(true)
    await g.stop()
    await deleteRedisKeys(redisPrefix)
    rmSync(dir, { recursive: true, force: true })
  })
  const configFile = join(dir, 'w.yaml')
  const original = parse(readFileSync(configFile, 'utf8')) as Record<string, any>
  const fx = await mqttFixture(view(g, g.ports.mqtts as number, certsDir))
  const live: MqttClient[] = []
  for (let i = 0; i < 4; i++) {
    const c = await fx.connect(await fx.device(`live-${i}`))
    clients.push(c)
    live.push(c)
  }
  const topic = `reloadw/${unique('t')}`
  for (const c of live) await c.subscribeAsync(topic, { qos: 1 })

  let seen = ''
  g.child.stderr?.on('data', (chunk: Buffer) => { seen += chunk.toString() })
  writeFileSync(configFile, stringify({ ...original, listeners: [...original.listeners, { name: 'extra', protocol: 'mqtt', host: '127.0.0.1', port: 0 }] }))
  g.child.kill('SIGHUP')
  await waitUntilSeen(() => seen, /SIGHUP, passed on to 2 workers/, 'the primary passing the SIGHUP on')
  await waitUntilSeen(() => seen, /config reloaded[^\n]*\n[\s\S]*config reloaded/, 'both workers reporting their reload')
  // Each worker names the added listener in a write of its own after its reload line, which can
  // reach this pipe in a later chunk than the second reload line.
  await waitUntilSeen(() => seen, /listener extra on [\s\S]*listener extra on /, 'both workers naming the added listener')
  const ports = [...seen.matchAll(/listener extra on [\d.]+:(\d+)/g)].map((m) => Number(m[1]))
  t.equal(ports.length, 2, 'each worker started the added listener')
  t.equal(ports[0], ports[1], 'on one port, shared by the workers')
  const onExtra = fixtureFor(view(g, ports[0] as number, certsDir), fx)
  for (let i = 0; i < 6; i++) {
    const device = await onExtra.connect(await onExtra.device(`extra-${i}`))
    clients.push(device)
    t.ok(device.connected, `connection ${i} on the added listener is served`)
  }
  for (const c of live) {
    t.ok(c.connected, 'a session from before the reload is still connected')
    await roundTrip(c, topic)
  }

  // A reload that changes the mqtts listener's settings (not its port): each worker restarts its
  // own socket on the shared port in turn, so connections keep being accepted throughout.
  const mqttsPort = g.ports.mqtts as number
  let refused = 0
  let accepted = 0
  let probing = true
  const prober = (async () => {
    while (probing) {
      await new Promise<void>((resolve) => {
        const socket = netConnect({ host: '127.0.0.1', port: mqttsPort }, () => { accepted++; socket.destroy(); resolve() })
        socket.once('error', () => { refused++; resolve() })
      })
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  })()
  seen = ''
  const changed = original.listeners.map((l: Record<string, unknown>) => (l.name === 'mqtts' ? { ...l, proxyProtocol: { mode: 'off', trustedCidrs: ['192.0.2.0/24'] } } : l))
  writeFileSync(configFile, stringify({ ...original, listeners: [...changed, { name: 'extra', protocol: 'mqtt', host: '127.0.0.1', port: 0 }] }))
  g.child.kill('SIGHUP')
  await waitUntilSeen(() => seen, /config reloaded[^\n]*\n[\s\S]*config reloaded/, 'both workers reporting the second reload')
  await new Promise((resolve) => setTimeout(resolve, 300))
  probing = false
  await prober
  t.notMatch(seen, /ADDRESS_IN_USE|reload failed/, 'no worker failed to listen again')
  t.ok(accepted > 5, `connections were probed throughout (${accepted} accepted)`)
  t.equal(refused, 0, 'none was refused while the workers restarted the changed listener')
  const after = await fx.connect(await fx.device('after-listener-change'))
  clients.push(after)
  t.ok(after.connected, 'the changed listener serves MQTT sessions')
})

async function waitUntilSeen(text: () => string, pattern: RegExp, what: string): Promise<void> {
  await valueWithin(() => pattern.test(text()), 15_000, what)
}

t.test('reload.watchFile: a changed config file is applied by itself, as a mounted ConfigMap is', async (t) => {
  if (!(await serviceAvailable(t, 'redis', 6379))) return
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-reload-watch-'))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const redisPrefix = `portcullis-test:${unique('reloadf')}:`
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTRELOADWATCH',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
  }
  const g = await startGatewayProcess({ name: 'f', dir, certsDir, redisPrefix, env, config: { reload: { watchFile: true } } })
  t.teardown(async () => {
    await g.stop()
    await deleteRedisKeys(redisPrefix)
    rmSync(dir, { recursive: true, force: true })
  })
  const configFile = join(dir, 'f.yaml')
  const original = parse(readFileSync(configFile, 'utf8')) as Record<string, any>
  const reloads = (): Array<Record<string, any>> => readFileSync(join(dir, 'f-audit.jsonl'), 'utf8').split('\n').filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>).filter((e) => e.type === 'admin.config.reload')
  writeFileSync(configFile, stringify({ ...original, listeners: [...original.listeners, { name: 'watched', protocol: 'mqtt', host: '127.0.0.1', port: 0 }] }))
  const event = await valueWithin(() => reloads()[0], 10_000, 'a reload after the file changed')
  t.match(event, { outcome: 'success', actor: { kind: 'system', id: 'config-file' }, details: { trigger: 'file', changes: [{ path: 'listeners[watched]', kind: 'added' }] } })
  writeFileSync(configFile, readFileSync(configFile))
  await new Promise((resolve) => setTimeout(resolve, 4500))
  t.equal(reloads().length, 1, 'the same bytes written again are not a change')
  writeFileSync(configFile, stringify({ ...original, listeners: [{ ...original.listeners[0], port: 'eighty' }] }))
  const refused = await valueWithin(() => reloads()[1], 10_000, 'a refused reload')
  t.match(refused, { outcome: 'failure', reason: 'CONFIG_INVALID', details: { trigger: 'file' } }, 'a broken file is refused and the running config kept')
})
