import t from 'tap'
import { connect as netConnect } from 'node:net'
import { serviceAvailable, type Test } from '../helpers/services'
import { startTestGateway, unique, type TestGateway } from '../helpers/gateway'
import { mqttFixture, type MqttFixture } from '../helpers/mqtt-fixture'
import { createCa } from '../../src/ca/pki'
import type { AuditEvent } from '../../src/audit/event'

/** MQTT 3.1.1 CONNACK return code 5 and MQTT 5 reason code 0x87: Not authorized. */
const NOT_AUTHORIZED = { 4: 5, 5: 0x87 } as const

async function refusedWith(
  t: Test, tg: TestGateway, fx: MqttFixture, cert: Parameters<MqttFixture['connect']>[0], reason: string,
  protocolVersion: 4 | 5 = 4,
): Promise<AuditEvent> {
  const clientId = unique('refused')
  const err = await fx.connect(cert, { protocolVersion, clientId }).then(
    (client) => { client.end(true); return new Error('connected, expected a refusal') },
    (e: Error & { code?: number }) => e,
  )
  t.equal((err as { code?: number }).code, NOT_AUTHORIZED[protocolVersion], `CONNACK says not authorized (${err.message})`)
  const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.actor.clientId === clientId)
  t.equal(event.reason, reason, `audit reason ${reason}`)
  t.equal(event.outcome, 'failure')
  return event
}

t.test('refusals: every bad device gets a reason code, an audit event and a CONNACK', async (t) => {
  if (!(await serviceAvailable(t, 'mosquitto', 1883))) return
  const tg = await startTestGateway(t, { handshakeTimeoutMs: 1500 })
  const fx = await mqttFixture(tg)

  t.test('no client certificate (3.1.1 and 5.0)', async (t) => {
    await refusedWith(t, tg, fx, undefined, 'CLIENT_CERT_MISSING', 4)
    await refusedWith(t, tg, fx, undefined, 'CLIENT_CERT_MISSING', 5)
  })

  t.test('a certificate from an unregistered CA', async (t) => {
    const stranger = await createCa({ commonName: `${fx.instanceId} CA` }) // same name, other key
    const device = await fx.device('stranger', { issuer: stranger })
    await refusedWith(t, tg, fx, device, 'CLIENT_CERT_UNTRUSTED')
  })

  t.test('a certificate from an INACTIVE CA', async (t) => {
    const other = await createCa({ commonName: unique('inactive-ca') })
    const reg = await fx.registerCa(other)
    t.equal(reg.status, 201)
    const off = await tg.admin('POST', `/v1/instances/${fx.instanceId}/cas/${reg.body.id}/deactivate`)
    t.equal(off.status, 200)
    t.equal(off.body.status, 'INACTIVE')
    await refusedWith(t, tg, fx, await fx.device('under-inactive', { issuer: other }), 'CA_INACTIVE', 5)
  })

  t.test('a certificate from a CA that has expired since registration', async (t) => {
    const shortLived = await createCa({ commonName: unique('short-ca'), notAfter: new Date(Date.now() + 3000) })
    t.equal((await fx.registerCa(shortLived)).status, 201)
    const device = await fx.device('outlives-its-ca', { issuer: shortLived, notAfter: new Date(Date.now() + 3_600_000) })
    await new Promise((r) => setTimeout(r, 3500))
    await refusedWith(t, tg, fx, device, 'CERT_EXPIRED')
  })

  t.test('an expired device certificate', async (t) => {
    const device = await fx.device('expired', { notBefore: new Date(Date.now() - 7_200_000), notAfter: new Date(Date.now() - 3_600_000) })
    await refusedWith(t, tg, fx, device, 'CERT_EXPIRED')
  })

  t.test('a revoked device certificate, and revocation is terminal', async (t) => {
    const device = await fx.device('to-revoke')
    const client = await fx.connect(device)
    await client.endAsync()
    const list = await tg.admin('GET', `/v1/instances/${fx.instanceId}/devices?status=ACTIVE`)
    const record = list.body.items.find((d: { subject: string }) => d.subject.includes('to-revoke'))
    t.ok(record, 'device registered on first connection')
    t.equal((await tg.admin('POST', `/v1/instances/${fx.instanceId}/devices/${record.id}/revoke`)).status, 200)
    await refusedWith(t, tg, fx, device, 'DEVICE_CERT_REVOKED')
    const again = await tg.admin('POST', `/v1/instances/${fx.instanceId}/devices/${record.id}/activate`)
    t.equal(again.status, 409)
    t.equal(again.body.code, 'DEVICE_REVOKED')
  })

  t.test('an unknown SNI aborts the handshake', async (t) => {
    const servername = `${unique('nobody')}.portcullis.local`
    const err = await fx.rawTls(await fx.device(), servername).then(
      (s) => { s.destroy(); return undefined },
      (e: Error) => e,
    )
    t.ok(err, 'TLS handshake fails')
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.details.detail !== undefined && String(e.details.detail).includes(servername))
    t.equal(event.reason, 'UNKNOWN_INSTANCE')
  })

  t.test('garbage instead of a TLS ClientHello', async (t) => {
    const socket = netConnect({ host: '127.0.0.1', port: tg.mqttPort })
    const port = await new Promise<number>((resolve) => socket.once('connect', () => resolve(socket.localPort ?? 0)))
    socket.end(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))
    await new Promise((resolve) => socket.once('close', resolve))
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
    t.equal(event.reason, 'TLS_HANDSHAKE_FAILED')
  })

  t.test('a malformed CONNECT', async (t) => {
    const socket = await fx.rawTls(await fx.device())
    const port = socket.localPort
    // CONNECT, remaining length 6, protocol name length 4 but only "MQ" follows.
    socket.write(Buffer.from([0x10, 0x06, 0x00, 0x04, 0x4d, 0x51, 0x00, 0x00]))
    await new Promise((resolve) => socket.once('close', resolve))
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
    t.equal(event.reason, 'PROTOCOL_ERROR')
  })

  t.test('an oversized CONNECT is refused as soon as its length and protocol level are read, in its version', async (t) => {
    const socket = await fx.rawTls(await fx.device())
    const port = socket.localPort
    const received: Buffer[] = []
    socket.on('data', (chunk: Buffer) => received.push(chunk))
    // Declares 256 MiB; then only the protocol name and level 5, never the body.
    socket.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]))
    socket.write(Buffer.from([0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x05]))
    await new Promise((resolve) => socket.once('close', resolve))
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
    t.equal(event.reason, 'PROTOCOL_ERROR')
    const connack = Buffer.concat(received)
    t.equal(connack[0], 0x20, 'a CONNACK')
    t.equal(connack[3], 0x95, 'MQTT 5 reason 0x95 packet too large [MQTT-3.2.2-6]')
  })

  t.test('a first packet that is not CONNECT', async (t) => {
    const socket = await fx.rawTls(await fx.device())
    const port = socket.localPort
    socket.write(Buffer.from([0xc0, 0x00])) // PINGREQ
    await new Promise((resolve) => socket.once('close', resolve))
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
    t.equal(event.reason, 'PROTOCOL_ERROR')
  })

  t.test('a CONNECT that never comes hits the handshake deadline', async (t) => {
    const socket = await fx.rawTls(await fx.device())
    const port = socket.localPort
    const started = Date.now()
    await new Promise((resolve) => socket.once('close', resolve))
    t.ok(Date.now() - started < 4000, 'closed by the 1.5 s deadline')
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
    t.equal(event.reason, 'HANDSHAKE_TIMEOUT')
  })

  t.test('a TCP connection that never starts TLS hits the same deadline', async (t) => {
    const socket = netConnect({ host: '127.0.0.1', port: tg.mqttPort })
    const port = await new Promise<number>((resolve) => socket.once('connect', () => resolve(socket.localPort ?? 0)))
    await new Promise((resolve) => socket.once('close', resolve))
    const event = await tg.waitForEvent((e) => e.type === 'connection.rejected' && e.source?.port === port)
    t.equal(event.reason, 'HANDSHAKE_TIMEOUT')
  })

  t.test('after a flood of bad connections the gateway still serves good devices', async (t) => {
    const before = process.memoryUsage().heapUsed
    const bad = Array.from({ length: 200 }, () => new Promise<void>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: tg.mqttPort })
      s.on('error', () => resolve())
      s.once('connect', () => s.end(Buffer.alloc(4096, 0x16)))
      s.once('close', () => resolve())
    }))
    await Promise.all(bad)
    const client = await fx.connect(await fx.device('after-flood'))
    t.ok(client.connected, 'a good device connects after the flood')
    await client.endAsync()
    const grownMiB = (process.memoryUsage().heapUsed - before) / 1024 / 1024
    t.ok(grownMiB < 64, `heap grew ${grownMiB.toFixed(1)} MiB over 200 bad connections`)
  })

  t.test('an instance that registers new devices INACTIVE refuses them until activated', async (t) => {
    const strict = await mqttFixture(tg, { options: { newDeviceStatus: 'INACTIVE' } })
    const device = await strict.device('waits-for-approval')
    await refusedWith(t, tg, strict, device, 'DEVICE_CERT_INACTIVE')
    const list = await tg.admin('GET', `/v1/instances/${strict.instanceId}/devices?status=INACTIVE`)
    t.equal(list.body.items.length, 1)
    t.equal((await tg.admin('POST', `/v1/instances/${strict.instanceId}/devices/${list.body.items[0].id}/activate`)).status, 200)
    const client = await strict.connect(device)
    t.ok(client.connected, 'activated device connects')
    await client.endAsync()
  })
})
