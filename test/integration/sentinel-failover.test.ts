/**
 * A Sentinel failover under load (DESIGN §4 "Production"): two gateway processes on a Sentinel
 * store (one master, one replica, three sentinels, started here), MQTT devices connected to both,
 * admin writes flowing through both; the master is SIGKILLed and the sentinels promote the replica.
 * Afterwards: every write the API acknowledged is there, the live sessions are still up and
 * forwarding, change notifications flow again, and a revocation kicks within 1 s on both replicas.
 */
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { MqttClient } from 'mqtt'
import { writeDevPki } from '../../src/ca/pki'
import { unique, type TestGateway } from '../helpers/gateway'
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway-process'
import { closed, fixtureFor, mqttFixture } from '../helpers/mqtt-fixture'
import { redisServerAvailable, startSentinelSet } from '../helpers/redis-topology'
import { serviceAvailable } from '../helpers/services'
import { until } from '../helpers/wait'

/** Enough of a TestGateway for the fixtures: admin calls to one replica, clients to another. */
function view(admin: GatewayProcess, clients: GatewayProcess, certsDir: string): TestGateway {
  return { admin: admin.admin, mqttPort: clients.ports.mqtts, amqpPort: clients.ports.amqps, certsDir } as unknown as TestGateway
}

async function ready(gateway: GatewayProcess): Promise<boolean> {
  const res = await fetch(`${gateway.adminUrl}/readyz`).catch(() => undefined)
  return res?.status === 200
}

interface Writes {
  /** Blacklist entry ids the API answered 201 for, with the gateway that answered. */
  acknowledged: Array<{ id: string; via: string; at: number }>
  /** 503s (STORE_UNAVAILABLE while the master is gone): refused, never acknowledged. */
  refused: number
  /** Anything else: a failure of the test. */
  unexpected: Array<{ via: string; status: number; body: unknown }>
  stop(): Promise<void>
}

/** Admin writes (blacklist entries for client ids nobody uses) through each gateway in turn, without pause. */
function writeContinuously(gateways: Record<string, GatewayProcess>): Writes {
  const writes: Writes = { acknowledged: [], refused: 0, unexpected: [], stop: async () => undefined }
  let writing = true
  const loops = Object.entries(gateways).map(async ([via, gateway]) => {
    for (let i = 0; writing; i++) {
      const res = await gateway.admin('POST', '/v1/blacklist', { kind: 'clientId', value: unique(`unused-${via}-${i}`) })
        .catch((err: unknown) => ({ status: -1, body: String(err) }))
      if (res.status === 201) writes.acknowledged.push({ id: res.body.id as string, via, at: Date.now() })
      else if (res.status === 503) {
        writes.refused++
        await sleep(20)
      } else writes.unexpected.push({ via, status: res.status, body: res.body })
    }
  })
  writes.stop = async () => {
    writing = false
    await Promise.all(loops)
  }
  return writes
}

t.test('a Sentinel failover under load loses no acknowledged write, keeps live sessions, and revocations still kick within 1 s', async (t) => {
  if (!redisServerAvailable(t) || !(await serviceAvailable(t, 'mosquitto', 1883))) return
  const set = await startSentinelSet({ replicas: 1 })
  t.teardown(() => set.stop())
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-failover-'))
  const certsDir = join(dir, 'certs')
  await writeDevPki(certsDir)
  const keyPrefix = `portcullis-test:${unique('failover')}:`
  const env = {
    PORTCULLIS_ROOT_ACCESS_KEY_ID: 'PCROOTFAILOVERTEST',
    PORTCULLIS_ROOT_ACCESS_KEY_SECRET: randomBytes(24).toString('base64url'),
    PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
    PORTCULLIS_MASTER_KEY_ID: 'failover-test-key',
  }
  const store = (name: string) => ({
    store: { kind: 'redis', sentinel: { masterName: set.masterName, nodes: set.sentinelNodes }, keyPrefix, dataDir: join(dir, `${name}-data`) },
  })
  const a = await startGatewayProcess({ name: 'a', dir, certsDir, redisPrefix: keyPrefix, env, config: store('a') })
  const b = await startGatewayProcess({ name: 'b', dir, certsDir, redisPrefix: keyPrefix, env, config: store('b') })
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop()])
    rmSync(dir, { recursive: true, force: true })
  })

  const fxA = await mqttFixture(view(a, a, certsDir))
  const fxB = fixtureFor(view(a, b, certsDir), fxA)
  const sessions: MqttClient[] = []
  for (const fx of [fxA, fxB]) for (let i = 0; i < 3; i++) sessions.push(await fx.connect(await fx.device()))
  const closedSessions = new Set<number>()
  sessions.forEach((client, i) => client.stream.once('close', () => closedSessions.add(i)))
  const victimName = unique('victim')
  const victim = await fxA.device(victimName)
  const victimOnA = await fxA.connect(victim)
  const victimOnB = await fxB.connect(victim)

  const writes = writeContinuously({ a, b })
  t.ok(await until(() => writes.acknowledged.length >= 20, 10_000), 'admin writes flow through both gateways')
  const old = await set.master()
  const killedAt = Date.now()
  await old.kill('SIGKILL')
  const promoted = await set.failedOver(old)
  t.comment(`sentinels promoted ${promoted.port} ${Date.now() - killedAt} ms after the master was killed`)
  const promotedAt = Date.now()
  const acknowledgedAfter = (via: string): number => writes.acknowledged.filter((w) => w.via === via && w.at > promotedAt).length
  t.ok(await until(() => acknowledgedAfter('a') >= 10 && acknowledgedAfter('b') >= 10, 15_000),
    `writes are acknowledged again through both gateways (first one ${Math.min(...writes.acknowledged.filter((w) => w.at > promotedAt).map((w) => w.at)) - killedAt} ms after the kill)`)
  await writes.stop()
  t.same(writes.unexpected, [], 'every write was answered 201 or 503')
  t.comment(`${writes.acknowledged.length} writes acknowledged, ${writes.refused} refused 503 during the failover`)

  const missing: string[] = []
  for (const { id } of writes.acknowledged) {
    if ((await b.admin('GET', `/v1/blacklist/${id}`)).status !== 200) missing.push(id)
  }
  t.same(missing, [], `all ${writes.acknowledged.length} acknowledged writes are on the promoted master`)

  t.ok(await until(async () => (await ready(a)) && (await ready(b)), 10_000), 'both gateways are ready again (resynced)')
  t.same([...closedSessions], [], 'no live session was closed by the failover')
  await Promise.all(sessions.map((client, i) => client.publishAsync(`failover/${i}`, 'still here', { qos: 1 })))
  t.pass('every live session still forwards (QoS 1 PUBLISH acknowledged by the broker through the gateway)')

  const devices = (await b.admin('GET', `/v1/instances/${fxA.instanceId}/devices`)).body.items as Array<{ id: string; subject: string }>
  const victimId = devices.find((d) => d.subject.includes(victimName))?.id
  const started = Date.now()
  t.equal((await a.admin('POST', `/v1/instances/${fxA.instanceId}/devices/${victimId}/revoke`)).status, 200)
  await Promise.all([closed(victimOnA, 1_000), closed(victimOnB, 1_000)])
  t.ok(Date.now() - started <= 1_000, `the revoked device was kicked from both gateways ${Date.now() - started} ms after the call`)
  await t.rejects(fxB.connect(victim), 'and is refused from then on')
  t.same([...closedSessions], [], 'the other sessions stay')
  await Promise.all(sessions.map((client) => client.endAsync()))
})
