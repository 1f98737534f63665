import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway, unique } from '../helpers/gateway'
import { directSubscriber, mqttFixture } from '../helpers/mqtt-fixture'

const run = promisify(execFile)

t.test('devices with registered-CA certificates publish through the gateway to Mosquitto', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const topic = `portcullis-test/${unique('fwd')}`
  // The direct subscriber sees what devices publish (under /up); /down carries messages to devices.
  const sub = await directSubscriber(`${topic}/up/#`)
  t.teardown(() => sub.client.endAsync())

  for (const protocolVersion of [3, 4, 5] as const) {
    t.test(`mqtt.js with MQTT ${{ 3: '3.1', 4: '3.1.1', 5: '5.0' }[protocolVersion]}`, async (t) => {
      const device = await fx.device()
      // MQTT 3.1 names its protocol "MQIsdp" [MQTT 3.1 §3.1]; 3.1.1 and 5.0 say "MQTT".
      const client = await fx.connect(device, { protocolVersion, ...(protocolVersion === 3 ? { protocolId: 'MQIsdp' as const } : {}) })
      await client.publishAsync(`${topic}/up/v${protocolVersion}`, `hello v${protocolVersion}`, { qos: 1 })
      const got = await sub.next()
      t.equal(got.topic, `${topic}/up/v${protocolVersion}`)
      t.equal(got.payload.toString(), `hello v${protocolVersion}`)
      await client.endAsync()
      const accepted = await tg.waitForEvent((e) => e.type === 'connection.accepted' && e.actor.clientId === client.options.clientId)
      t.equal(accepted.instanceId, fx.instanceId)
      t.equal(accepted.outcome, 'success')
      const closedEvent = await tg.waitForEvent((e) => e.type === 'connection.closed' && e.details.connId === accepted.details.connId)
      t.ok(Number(closedEvent.details.bytesUpstream) > 0, 'closed event counts bytes sent upstream')
      t.ok(Number(closedEvent.details.bytesDownstream) > 0, 'closed event counts bytes sent downstream')
    })
  }

  t.test('a subscriber through the gateway receives what a direct publisher sends', async (t) => {
    const client = await fx.connect(await fx.device())
    const received = new Promise<string>((resolve) => client.once('message', (_t, p) => resolve(p.toString())))
    await client.subscribeAsync(`${topic}/down`, { qos: 1 })
    await sub.client.publishAsync(`${topic}/down`, 'to the device', { qos: 1 })
    t.equal(await received, 'to the device')
    await client.endAsync()
  })

  t.test("Debian's mosquitto_pub publishes through the gateway", async (t) => {
    const device = await fx.device('mosquitto-pub-device')
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-mqttcli-'))
    const files = { ca: join(dir, 'server-ca.pem'), cert: join(dir, 'device.pem'), key: join(dir, 'device.key') }
    writeFileSync(files.ca, fx.serverCa)
    writeFileSync(files.cert, device.cert)
    writeFileSync(files.key, device.key, { mode: 0o600 })
    // mosquitto_pub sends its -h as SNI and verifies the server certificate against it; the
    // test's dev server certificate covers localhost, so the instance is given that name too.
    const ours = await tg.admin('PATCH', `/v1/instances/${fx.instanceId}`, { hostnames: [fx.hostname, 'localhost'] })
    t.equal(ours.status, 200)
    const payload = `from mosquitto_pub ${unique('m')}`
    await run('mosquitto_pub', [
      '-h', 'localhost', '-p', String(tg.mqttPort), '--cafile', files.ca, '--cert', files.cert, '--key', files.key,
      '-t', `${topic}/up/cli`, '-m', payload, '-q', '1', '-V', 'mqttv311',
    ], { timeout: 10_000 })
    const got = await sub.next()
    t.equal(got.payload.toString(), payload)
  })

  t.test("Debian's mosquitto_sub receives through the gateway (MQTT 5)", async (t) => {
    // Runs after the mosquitto_pub test, which gave the instance the hostname localhost.
    const device = await fx.device('mosquitto-sub-device')
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-mqttcli-'))
    const files = { ca: join(dir, 'server-ca.pem'), cert: join(dir, 'device.pem'), key: join(dir, 'device.key') }
    writeFileSync(files.ca, fx.serverCa)
    writeFileSync(files.cert, device.cert)
    writeFileSync(files.key, device.key, { mode: 0o600 })
    const subscribed = run('mosquitto_sub', [
      '-h', 'localhost', '-p', String(tg.mqttPort), '--cafile', files.ca, '--cert', files.cert, '--key', files.key,
      '-t', `${topic}/down/cli-sub`, '-C', '1', '-W', '10', '-V', 'mqttv5',
    ], { timeout: 15_000 })
    // Publish until the subscriber (whose SUBSCRIBE we cannot observe) has received one.
    let done = false
    subscribed.finally(() => { done = true }).catch(() => undefined)
    while (!done) {
      await sub.client.publishAsync(`${topic}/down/cli-sub`, 'hello mosquitto_sub', { qos: 1 })
      await new Promise((r) => setTimeout(r, 200))
    }
    const { stdout } = await subscribed
    t.equal(stdout.trim(), 'hello mosquitto_sub')
  })
})
