import t from 'tap'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway, unique } from '../helpers/gateway'
import { closed, mqttFixture } from '../helpers/mqtt-fixture'
import { amqpFixture } from '../helpers/amqp-fixture'
import { inspectCertificate } from '../../src/ca/certificate'
import { X509Certificate } from 'node:crypto'
import type amqplib from 'amqplib'

/** MQTT 5 CONNACK 0x8A: Banned. */
const BANNED = 0x8a

function amqpClosed(conn: amqplib.ChannelModel): Promise<string> {
  return new Promise((resolve) => {
    conn.on('error', (e: Error) => resolve(e.message))
    conn.on('close', (e?: Error) => resolve(e?.message ?? 'closed'))
  })
}

t.test('the blacklist refuses new connections and closes live sessions of both protocols', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883)) || !(await serviceAvailable(t, 'rabbitmq', 5672))) return
  const tg = await startTestGateway(t)
  const mq = await mqttFixture(tg)
  const amqp = await amqpFixture(tg)
  const add = async (entry: Record<string, unknown>): Promise<string> => {
    const res = await tg.admin('POST', '/v1/blacklist', { reason: 'test', ...entry })
    if (res.status !== 201) throw new Error(`blacklist add: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body.id
  }
  const remove = async (id: string): Promise<void> => {
    t.equal((await tg.admin('DELETE', `/v1/blacklist/${id}`)).status, 204, 'entry removed')
  }

  const mqttCases: Array<[string, (c: { clientId: string; username: string; fingerprint: string }) => Record<string, unknown>]> = [
    ['clientId', (c) => ({ kind: 'clientId', value: c.clientId })],
    ['username', (c) => ({ kind: 'username', value: c.username })],
    ['certFingerprint', (c) => ({ kind: 'certFingerprint', value: c.fingerprint.toUpperCase().replace(/(..)(?!$)/g, '$1:') })],
    ['ip (per instance)', () => ({ kind: 'ip', value: '127.0.0.0/8', instanceId: mq.instanceId })],
  ]
  for (const [kind, entryFor] of mqttCases) {
    t.test(`MQTT, ${kind}: the live session is closed and a new one refused with CONNACK 0x8A`, async (t) => {
      const device = await mq.device()
      const fingerprint = inspectCertificate(new X509Certificate(device.cert)).id
      const ids = { clientId: unique('bl-client'), username: unique('bl-user'), fingerprint }
      const live = await mq.connect(device, { clientId: ids.clientId, username: ids.username, protocolVersion: 5 })
      const bystander = await mq.connect(await mq.device(), { protocolVersion: 5 })
      const id = await add(entryFor(ids))
      await closed(live, 1000)
      const kick = await tg.waitForEvent((e) => e.type === 'session.kicked' && e.reason === 'BLACKLISTED' && e.details.clientId === ids.clientId)
      t.ok(kick, 'session.kicked BLACKLISTED')
      if (kind !== 'ip (per instance)') t.ok(bystander.connected, 'other sessions stay')
      const err = await mq.connect(device, { clientId: ids.clientId, username: ids.username, protocolVersion: 5 }).then(
        (c) => { c.end(true); return undefined },
        (e: Error & { code?: number }) => e,
      )
      t.equal(err?.code, BANNED, 'refused with CONNACK 0x8A Banned')
      const refusal = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.actor.clientId === ids.clientId)
      t.equal(refusal.reason, 'BLACKLISTED')
      await remove(id)
      const again = await mq.connect(device, { clientId: ids.clientId, username: ids.username, protocolVersion: 5 })
      t.ok(again.connected, 'admitted again once the entry is removed')
      await again.endAsync()
      bystander.end(true)
    })
  }

  const staticAccount = async (key: { accessKeyId: string; accessKeySecret: string }) => {
    const res = await amqp.createStaticAccount(key)
    return { userName: res.body.userName as string, password: res.body.password as string }
  }
  const amqpCases: Array<[string, (k: { accessKeyId: string; userName: string }) => Record<string, unknown>]> = [
    ['accessKey', (k) => ({ kind: 'accessKey', value: k.accessKeyId })],
    ['account', (k) => ({ kind: 'account', value: k.userName })],
    ['username', (k) => ({ kind: 'username', value: k.userName })],
    ['ip (per instance)', () => ({ kind: 'ip', value: '127.0.0.1', instanceId: amqp.instanceId })],
  ]
  for (const [kind, entryFor] of amqpCases) {
    t.test(`AMQP, ${kind}: the live connection is closed and a new one refused`, async (t) => {
      const key = await amqp.createAccessKey()
      const creds = await staticAccount(key)
      const live = await amqp.connect(creds)
      const closedWith = amqpClosed(live)
      const id = await add(entryFor({ accessKeyId: key.accessKeyId, userName: creds.userName }))
      t.match(await closedWith, /CONNECTION_FORCED - BLACKLISTED/, 'the client is told why')
      const err = await amqp.connect(creds).then(async (c) => { await c.close(); return undefined }, (e: Error) => e)
      t.match(err?.message, 'ACCESS_REFUSED - BLACKLISTED')
      await remove(id)
      const again = await amqp.connect(creds)
      await again.close()
    })
  }

  t.test('an entry with an expiry stops applying by itself', async (t) => {
    const device = await mq.device()
    const clientId = unique('expiring')
    await add({ kind: 'clientId', value: clientId, expiresAt: new Date(Date.now() + 1500).toISOString() })
    await t.rejects(mq.connect(device, { clientId }), 'refused while the entry applies')
    await new Promise((r) => setTimeout(r, 2000))
    const client = await mq.connect(device, { clientId })
    t.ok(client.connected, 'admitted after the expiry, with no one removing the entry')
    await client.endAsync()
  })

  t.test('an entry for another instance does not apply here', async (t) => {
    const other = await mqttFixture(tg)
    const clientId = unique('scoped')
    const id = await add({ kind: 'clientId', value: clientId, instanceId: other.instanceId })
    const client = await mq.connect(await mq.device(), { clientId })
    t.ok(client.connected)
    await client.endAsync()
    t.equal((await tg.admin('DELETE', `/v1/instances/${other.instanceId}?force=true`)).status, 204)
    t.equal((await tg.admin('GET', `/v1/blacklist/${id}`)).status, 404, 'an instance takes its own entries with it')
  })
})
