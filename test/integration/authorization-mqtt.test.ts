import { waitFor } from '../helpers/wait'
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { MqttClient } from 'mqtt'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { closed, directSubscriber, mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'
import type { KeyAndCert } from '../../src/ca/pki'

const run = promisify(execFile)

/**
 * DESIGN §4 enforcement with real clients (mqtt.js 3.1.1 and 5, Debian's mosquitto_pub/_sub)
 * through the gateway to the real Mosquitto, on the fleet of docs/authorization.md: each device
 * may connect only with its certificate's CN as clientId, publish only under
 * `devices/<CN>/#`, and subscribe to and receive only `commands/<CN>`.
 */
function fleetPolicy(instanceId: string): { statements: unknown[] } {
  return {
    statements: [
      { effect: 'Allow', actions: ['mqtt:Connect'], resources: [`mqtt:${instanceId}:client/\${certCommonName}`] },
      { effect: 'Allow', actions: ['mqtt:Publish'], resources: [`mqtt:${instanceId}:topic/devices/\${certCommonName}/#`] },
      { effect: 'Allow', actions: ['mqtt:Subscribe', 'mqtt:Receive'], resources: [`mqtt:${instanceId}:topic/commands/\${certCommonName}`] },
    ],
  }
}

async function ok(res: Promise<{ status: number; body: unknown }>, what: string): Promise<void> {
  const { status, body } = await res
  if (status < 200 || status >= 300) throw new Error(`${what}: HTTP ${status} ${JSON.stringify(body)}`)
}

/** An enforcing MQTT instance with the fleet policy attached to every client of it. */
async function enforcingFleet(tg: TestGateway): Promise<{ fx: MqttFixture; policy: string }> {
  const fx = await mqttFixture(tg)
  const policy = unique('fleet')
  await ok(tg.admin('PUT', `/v1/policies/${policy}`, fleetPolicy(fx.instanceId)), 'put policy')
  await ok(tg.admin('POST', `/v1/policies/${policy}/attachments`, { principal: `instance:${fx.instanceId}` }), 'attach')
  await ok(tg.admin('PATCH', `/v1/instances/${fx.instanceId}`, { authorization: { mode: 'enforce' } }), 'enforce')
  return { fx, policy }
}

/** A device whose CN is unique to the test, and its client connected with that CN as clientId. */
async function device(t: tap.Test, fx: MqttFixture, protocolVersion: 4 | 5): Promise<{ cn: string; cert: KeyAndCert; client: MqttClient }> {
  const cn = unique('dev')
  const cert = await fx.device(cn)
  const client = await fx.connect(cert, { clientId: cn, protocolVersion })
  t.teardown(() => client.end(true))
  return { cn, cert, client }
}

t.test('MQTT enforcement with the fleet policy', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const { fx, policy } = await enforcingFleet(tg)

  t.test('mqtt:Connect binds the clientId to the certificate: another clientId is refused in the client\'s version', async (t) => {
    const cert = await fx.device(unique('dev'))
    await t.rejects(fx.connect(cert, { clientId: unique('other'), protocolVersion: 4 }), { code: 5 }, '3.1.1: CONNACK 0x05 not authorized')
    await t.rejects(fx.connect(cert, { clientId: unique('other'), protocolVersion: 5 }), { code: 0x87 }, '5: CONNACK 0x87 not authorized')
    const refused = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.reason === 'NOT_AUTHORIZED' && e.instanceId === fx.instanceId)
    t.equal(refused.outcome, 'failure')
  })

  t.test('a Will needs mqtt:Publish on its topic: one elsewhere is refused, one on the device\'s own topic is published when it vanishes', async (t) => {
    const cn = unique('dev')
    const cert = await fx.device(cn)
    const own = await directSubscriber(`devices/${cn}/#`)
    const elsewhere = await directSubscriber(`elsewhere/${cn}/#`)
    t.teardown(() => Promise.all([own.client.endAsync(), elsewhere.client.endAsync()]))
    const will = (topic: string): { topic: string; payload: Buffer; qos: 1; retain: false } => ({ topic, payload: Buffer.from('offline'), qos: 1, retain: false })
    await t.rejects(fx.connect(cert, { clientId: cn, protocolVersion: 4, will: will(`elsewhere/${cn}/gone`) }), { code: 5 }, '3.1.1: CONNACK 0x05 not authorized')
    await t.rejects(fx.connect(cert, { clientId: cn, protocolVersion: 5, will: will(`elsewhere/${cn}/gone`) }), { code: 0x87 }, '5: CONNACK 0x87 not authorized')
    const refused = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.reason === 'NOT_AUTHORIZED' && e.instanceId === fx.instanceId && String(e.details['detail']).includes('Will'))
    t.match(String(refused.details['detail']), `mqtt:Publish of the Will on "elsewhere/${cn}/gone" is not allowed`, 'the refusal names the action and the topic')

    const client = await fx.connect(cert, { clientId: cn, protocolVersion: 5, will: will(`devices/${cn}/status`) })
    // Gone without a DISCONNECT: the broker publishes the Will the gateway admitted.
    client.stream.destroy()
    t.equal((await own.next()).payload.toString(), 'offline', 'the allowed Will reaches its subscriber')
    await t.rejects(elsewhere.next(300), 'no refused Will was ever handed to the broker')
  })

  for (const protocolVersion of [4, 5] as const) {
    const name = protocolVersion === 4 ? '3.1.1' : '5'
    t.test(`MQTT ${name}: allowed publishes reach the broker, a denied QoS 0 one is dropped`, async (t) => {
      const { cn, client } = await device(t, fx, protocolVersion)
      const sub = await directSubscriber(`devices/${cn}/#`)
      const elsewhere = await directSubscriber(`elsewhere/${cn}/#`)
      t.teardown(() => Promise.all([sub.client.endAsync(), elsewhere.client.endAsync()]))
      await client.publishAsync(`elsewhere/${cn}/x`, 'denied', { qos: 0 })
      await client.publishAsync(`devices/${cn}/telemetry`, 'allowed', { qos: 1 })
      const got = await sub.next()
      t.equal(got.payload.toString(), 'allowed')
      // The broker handles one connection's packets in order: what was sent before the allowed
      // publish has arrived by now, had it been forwarded.
      await t.rejects(elsewhere.next(300), 'the denied publish never reached the broker')
      t.ok(client.connected, 'a denied QoS 0 publish does not end the session')
    })
  }

  t.test('MQTT 5: a denied QoS 1 / QoS 2 publish is answered PUBACK / PUBREC 0x87, and the packet ids stay in step', async (t) => {
    const { cn, client } = await device(t, fx, 5)
    const sub = await directSubscriber(`devices/${cn}/#`)
    t.teardown(() => sub.client.endAsync())
    await t.rejects(client.publishAsync(`elsewhere/${cn}/q1`, 'x', { qos: 1 }), { code: 0x87 }, 'PUBACK 0x87')
    await t.rejects(client.publishAsync(`elsewhere/${cn}/q2`, 'x', { qos: 2 }), { code: 0x87 }, 'PUBREC 0x87')
    // Interleaved denied and allowed QoS 1/2 publishes: every one gets exactly its own answer.
    const results = await Promise.allSettled(Array.from({ length: 40 }, (_, i) => client.publishAsync(
      i % 2 === 0 ? `devices/${cn}/n${i}` : `elsewhere/${cn}/n${i}`, String(i), { qos: i % 4 < 2 ? 1 : 2 })))
    t.same(results.map((r) => r.status), Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 'fulfilled' : 'rejected')))
    const seen = new Set<string>()
    for (let i = 0; i < 20; i++) seen.add((await sub.next()).payload.toString())
    t.same([...seen].sort(), Array.from({ length: 20 }, (_, i) => String(i * 2)).sort(), 'the 20 allowed ones arrived, once each')
    t.ok(client.connected)
    const denied = await tg.waitForEvent((e) => e.type === 'authorization.denied' && e.details.action === 'mqtt:Publish' && String(e.details.resource).includes(`elsewhere/${cn}/`))
    t.equal(denied.reason, 'NOT_AUTHORIZED')
  })

  t.test('MQTT 3.1.1: a denied QoS 1 publish closes the session (3.1.1 has no code for it)', async (t) => {
    const { cn, client } = await device(t, fx, 4)
    const gone = closed(client, 2000)
    client.publish(`elsewhere/${cn}/q1`, 'x', { qos: 1 })
    await gone
    const closedEvent = await tg.waitForEvent((e) => e.type === 'connection.closed' && e.actor.clientId === cn)
    t.equal(closedEvent.reason, 'NOT_AUTHORIZED')
  })

  for (const protocolVersion of [4, 5] as const) {
    const name = protocolVersion === 4 ? '3.1.1' : '5'
    t.test(`MQTT ${name}: SUBSCRIBE answers a failure code for each denied filter, and the granted one receives`, async (t) => {
      const { cn, client } = await device(t, fx, protocolVersion)
      const failure = protocolVersion === 4 ? 0x80 : 0x87
      t.same(await subackCodes(client, [`commands/${cn}`, `commands/${unique('other')}`, `devices/${cn}/#`], 1), [1, failure, failure], 'one reason code per filter, in order')
      t.same(await subackCodes(client, [`#`, `commands/+`], 0), [failure, failure], 'a SUBSCRIBE with no allowed filter is answered by the gateway')
      const received = new Promise<string>((resolve) => client.once('message', (_topic, payload) => resolve(payload.toString())))
      const direct = await directSubscriber(`unused/${cn}`)
      t.teardown(() => direct.client.endAsync())
      await direct.client.publishAsync(`commands/${cn}`, 'reboot', { qos: 1 })
      t.equal(await received, 'reboot')
    })
  }

  t.test('a policy edit applies to live sessions at once: deliveries stop, then a denied Connect kicks', async (t) => {
    const { cn, client } = await device(t, fx, 5)
    await client.subscribeAsync(`commands/${cn}`, { qos: 1 })
    const direct = await directSubscriber(`unused/${cn}`)
    t.teardown(() => direct.client.endAsync())
    const messages: string[] = []
    client.on('message', (_topic, payload) => messages.push(payload.toString()))
    await direct.client.publishAsync(`commands/${cn}`, 'before', { qos: 1 })
    await waitFor(() => messages.includes('before'), 2000)

    // Receive is withdrawn: the subscription stays at the broker, the gateway drops the deliveries.
    const withoutReceive = fleetPolicy(fx.instanceId)
    withoutReceive.statements[2] = { effect: 'Allow', actions: ['mqtt:Subscribe'], resources: [`mqtt:${fx.instanceId}:topic/commands/\${certCommonName}`] }
    await ok(tg.admin('PUT', `/v1/policies/${policy}`, withoutReceive), 'edit policy')
    for (const qos of [0, 1, 2] as const) await direct.client.publishAsync(`commands/${cn}`, `after-${qos}`, { qos })
    await new Promise((resolve) => setTimeout(resolve, 500))
    t.same(messages, ['before'], 'no delivery after Receive was withdrawn, whatever its QoS')
    t.ok(client.connected, 'the session stays: it may still connect')

    // An explicit Deny of Connect for this device's clientId ends the session within a second.
    const denyConnect = { ...withoutReceive, statements: [...withoutReceive.statements, { effect: 'Deny', actions: ['mqtt:Connect'], resources: [`mqtt:${fx.instanceId}:client/${cn}`] }] }
    const started = Date.now()
    const reason = new Promise<number | undefined>((resolve) => client.once('disconnect', (p) => resolve(p.reasonCode)))
    await ok(tg.admin('PUT', `/v1/policies/${policy}`, denyConnect), 'deny connect')
    await closed(client, 1000)
    t.ok(Date.now() - started <= 1000, 'kicked within 1 s')
    t.equal(await reason, 0x87, 'MQTT 5 DISCONNECT 0x87 not authorized')
    const kicked = await tg.waitForEvent((e) => e.type === 'session.kicked' && e.details.clientId === cn)
    t.equal(kicked.reason, 'NOT_AUTHORIZED')
    await ok(tg.admin('PUT', `/v1/policies/${policy}`, fleetPolicy(fx.instanceId)), 'restore policy')
  })

  t.test("Debian's mosquitto_pub and mosquitto_sub under the fleet policy", async (t) => {
    await ok(tg.admin('PATCH', `/v1/instances/${fx.instanceId}`, { hostnames: [fx.hostname, 'localhost'] }), 'hostname localhost')
    const cn = unique('cli')
    const cert = await fx.device(cn)
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-authz-cli-'))
    const files = { ca: join(dir, 'server-ca.pem'), cert: join(dir, 'device.pem'), key: join(dir, 'device.key') }
    writeFileSync(files.ca, fx.serverCa)
    writeFileSync(files.cert, cert.cert)
    writeFileSync(files.key, cert.key, { mode: 0o600 })
    const tls = ['-h', 'localhost', '-p', String(tg.mqttPort), '--cafile', files.ca, '--cert', files.cert, '--key', files.key, '-i', cn]
    const sub = await directSubscriber(`devices/${cn}/#`)
    t.teardown(() => sub.client.endAsync())
    await run('mosquitto_pub', [...tls, '-t', `devices/${cn}/cli`, '-m', 'from mosquitto_pub', '-q', '1', '-V', 'mqttv5'], { timeout: 10_000 })
    t.equal((await sub.next()).payload.toString(), 'from mosquitto_pub')
    const denied = await run('mosquitto_pub', [...tls, '-t', `elsewhere/${cn}`, '-m', 'x', '-q', '1', '-V', 'mqttv5'], { timeout: 10_000 }).then(
      ({ stdout, stderr }) => `exit 0: ${stdout} ${stderr}`, (err: { stdout?: string; stderr?: string; code?: number }) => `exit ${err.code}: ${err.stdout ?? ''} ${err.stderr ?? ''}`)
    t.comment(`mosquitto_pub on a denied topic: ${denied}`)
    t.match(denied, /not authori[sz]ed/i, 'mosquitto_pub reports the PUBACK 0x87')
    const refused = await run('mosquitto_sub', [...tls, '-t', `commands/${unique('other')}`, '-C', '1', '-W', '5', '-V', 'mqttv311'], { timeout: 10_000 }).then(
      ({ stdout, stderr }) => `exit 0: ${stdout} ${stderr}`, (err: { stdout?: string; stderr?: string; code?: number }) => `exit ${err.code}: ${err.stdout ?? ''} ${err.stderr ?? ''}`)
    t.comment(`mosquitto_sub on a denied filter: ${refused}`)
    t.match(refused, /denied/i, 'mosquitto_sub is told its only subscription was denied')
    const wrongId = await run('mosquitto_pub', [...tls.slice(0, -2), '-i', unique('not-cn'), '-t', `devices/${cn}/x`, '-m', 'x', '-V', 'mqttv311'], { timeout: 10_000 }).then(
      () => 'connected', (err: { stderr?: string }) => err.stderr ?? '')
    t.match(wrongId, /not authori[sz]ed/i, 'a clientId other than the CN is refused')
  })
})

t.test("authorization.mode off behaves as before: the same policy attached decides nothing", async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const policy = unique('fleet')
  await ok(tg.admin('PUT', `/v1/policies/${policy}`, fleetPolicy(fx.instanceId)), 'put policy')
  await ok(tg.admin('POST', `/v1/policies/${policy}/attachments`, { principal: `instance:${fx.instanceId}` }), 'attach')
  const cn = unique('dev')
  const client = await fx.connect(await fx.device(cn), { clientId: unique('any-id'), protocolVersion: 5 })
  t.teardown(() => client.end(true))
  const sub = await directSubscriber(`elsewhere/${cn}/#`)
  t.teardown(() => sub.client.endAsync())
  await client.publishAsync(`elsewhere/${cn}/x`, 'anything goes', { qos: 1 })
  t.equal((await sub.next()).payload.toString(), 'anything goes')
  t.same(await subackCodes(client, [`#`], 0), [0])
  t.equal(tg.events('authorization.denied').length, 0, 'nothing is decided')

  t.test('switching the instance to enforce ends the sessions admitted without it', async (t) => {
    const gone = closed(client, 2000)
    await ok(tg.admin('PATCH', `/v1/instances/${fx.instanceId}`, { authorization: { mode: 'enforce' } }), 'enforce')
    await gone
    const kicked = await tg.waitForEvent((e) => e.type === 'session.kicked' && e.instanceId === fx.instanceId)
    t.equal(kicked.reason, 'AUTHORIZATION_ENFORCED')
  })
})

/**
 * The SUBACK's reason codes for one SUBSCRIBE. mqtt.js rejects a SUBACK holding any failure code
 * (ErrorWithSubackPacket), and carries the packet on the error.
 */
function subackCodes(client: MqttClient, filters: string[], qos: 0 | 1): Promise<number[]> {
  return new Promise((resolve, reject) => {
    client.subscribe(filters, { qos }, (err, granted, packet) => {
      const fromError = (err as { packet?: { granted?: number[] } } | null | undefined)?.packet?.granted
      if (fromError !== undefined) return resolve(fromError)
      if (err) return reject(err)
      resolve(packet?.granted as number[] | undefined ?? (granted ?? []).map((g) => g.qos))
    })
  })
}

