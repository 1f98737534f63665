import t from 'tap'
import { serviceAvailable } from '../helpers/services'
import { startTestGateway, unique } from '../helpers/gateway'
import { closed, mqttFixture } from '../helpers/mqtt-fixture'
import { createCa } from '../../src/ca/pki'
import type { MqttClient } from 'mqtt'

/** Device id = lowercase hex SHA-256 of the DER (DESIGN §3). */
async function deviceIdOf(tg: Awaited<ReturnType<typeof startTestGateway>>, instanceId: string, cn: string): Promise<string> {
  const list = await tg.admin('GET', `/v1/instances/${instanceId}/devices`)
  const found = list.body.items.find((d: { subject: string }) => d.subject.includes(cn))
  if (found === undefined) throw new Error(`device ${cn} not registered`)
  return found.id
}

function stillConnected(client: MqttClient): Promise<boolean> {
  return client.publishAsync(`portcullis-test/${unique('alive')}`, 'ping', { qos: 1 }).then(() => client.connected, () => false)
}

t.test('changes reach live sessions within 1 second, and only the affected ones', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const otherCa = await createCa({ commonName: unique('other-ca') })
  const reg = await fx.registerCa(otherCa)
  t.equal(reg.status, 201)
  const clients: MqttClient[] = []
  t.teardown(() => { for (const c of clients) c.end(true) })
  const connect = async (cn: string, issuer = fx.ca, protocolVersion: 4 | 5 = 4): Promise<MqttClient> => {
    const c = await fx.connect(await fx.device(cn, { issuer }), { protocolVersion })
    clients.push(c)
    return c
  }

  t.test('deactivating a CA closes the sessions under it', async (t) => {
    const a1 = await connect('under-other-1', otherCa)
    const a2 = await connect('under-other-2', otherCa, 5)
    const bystander = await connect('under-main')
    const disconnectReason = new Promise<number | undefined>((resolve) => a2.once('disconnect', (p) => resolve(p.reasonCode)))
    const started = Date.now()
    const res = await tg.admin('POST', `/v1/instances/${fx.instanceId}/cas/${reg.body.id}/deactivate`)
    t.equal(res.status, 200)
    const [e1, e2] = await Promise.all([closed(a1, 1000), closed(a2, 1000)])
    t.ok(Date.now() - started <= 1000, `both closed within 1 s (${e1} ms, ${e2} ms after the call returned)`)
    t.equal(await disconnectReason, 0x87, 'the MQTT 5 client is told: not authorized')
    t.ok(await stillConnected(bystander), 'a device under another CA stays connected')
    const kicked = tg.events('session.kicked').filter((e) => e.reason === 'CA_DEACTIVATED')
    t.equal(kicked.length, 2, 'two session.kicked events with reason CA_DEACTIVATED')
  })

  t.test('revoking a device certificate closes that device only', async (t) => {
    const victim = await connect('to-be-revoked')
    const neighbour = await connect('neighbour')
    const id = await deviceIdOf(tg, fx.instanceId, 'to-be-revoked')
    const started = Date.now()
    t.equal((await tg.admin('POST', `/v1/instances/${fx.instanceId}/devices/${id}/revoke`)).status, 200)
    await closed(victim, 1000)
    t.ok(Date.now() - started <= 1000, 'closed within 1 s')
    t.ok(await stillConnected(neighbour), 'the neighbour stays connected')
    const event = await tg.waitForEvent((e) => e.type === 'session.kicked' && e.details.deviceId === id)
    t.equal(event.reason, 'DEVICE_CERT_REVOKED')
  })

  t.test('deactivating a device certificate closes it, and it is refused until activated', async (t) => {
    const device = await fx.device('to-be-deactivated')
    const client = await fx.connect(device)
    clients.push(client)
    const id = await deviceIdOf(tg, fx.instanceId, 'to-be-deactivated')
    t.equal((await tg.admin('POST', `/v1/instances/${fx.instanceId}/devices/${id}/deactivate`)).status, 200)
    await closed(client, 1000)
    const event = await tg.waitForEvent((e) => e.type === 'session.kicked' && e.details.deviceId === id)
    t.equal(event.reason, 'DEVICE_CERT_INACTIVE')
    await t.rejects(fx.connect(device), 'refused while INACTIVE')
    t.equal((await tg.admin('POST', `/v1/instances/${fx.instanceId}/devices/${id}/activate`)).status, 200)
    const back = await fx.connect(device)
    clients.push(back)
    t.ok(back.connected, 'connects again once ACTIVE')
  })

  t.test('an admin kick closes one session, found by GET /v1/connections', async (t) => {
    const client = await connect('to-be-kicked')
    const list = await tg.admin('GET', `/v1/connections?instanceId=${fx.instanceId}`)
    const mine = list.body.items.find((s: { clientId?: string }) => s.clientId === client.options.clientId)
    t.ok(mine, 'the session is listed with its identity')
    t.equal((await tg.admin('DELETE', `/v1/connections/${mine.connId}`)).status, 204)
    await closed(client, 1000)
  })
})

t.test('stopping the gateway says goodbye to live sessions and does not wait for them to leave', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t)
  const fx = await mqttFixture(tg)
  const v5 = await fx.connect(await fx.device(), { protocolVersion: 5 })
  const v311 = await fx.connect(await fx.device())
  const told = new Promise<number | undefined>((resolve) => v5.once('disconnect', (p) => resolve(p.reasonCode)))
  const started = Date.now()
  await tg.stop()
  t.ok(Date.now() - started < 3000, `stopped in ${Date.now() - started} ms with two live sessions`)
  t.equal(await told, 0x8b, 'the MQTT 5 client is told: server shutting down')
  await closed(v311, 1000)
})
