/**
 * An MQTT instance on a test gateway with a CA registered through the admin API (registration
 * code → verification certificate → register), device certificates under it, and clients:
 * mqtt.js over real TLS, and a plain subscriber directly on the broker to see what arrived.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt'
import { createCa, createLeaf, createVerificationCertificate, type KeyAndCert } from '../../src/ca/pki'
import type { TestGateway } from './gateway'
import { unique } from './gateway'

export interface MqttFixture {
  instanceId: string
  hostname: string
  ca: KeyAndCert
  /** PEM of the CA that issued the gateway's server certificate, for clients to trust. */
  serverCa: string
  registerCa(ca: KeyAndCert): Promise<{ status: number; body: any }>
  device(commonName?: string, opts?: { notBefore?: Date; notAfter?: Date; issuer?: KeyAndCert }): Promise<KeyAndCert>
  /** Connects through the gateway; resolves connected or rejects with the CONNACK code / error. */
  connect(cert: KeyAndCert | undefined, opts?: Partial<IClientOptions> & { servername?: string }): Promise<MqttClient>
  /** A raw TLS socket to the gateway (for malformed-input tests). */
  rawTls(cert?: KeyAndCert, servername?: string): Promise<TLSSocket>
}

export async function mqttFixture(tg: TestGateway, opts: {
  backend?: 'mosquitto' | 'embedded'
  options?: Record<string, unknown>
} = {}): Promise<MqttFixture> {
  const instanceId = unique('mq')
  const hostname = `${instanceId}.portcullis.local`
  const backend = opts.backend === 'embedded' ? { kind: 'embedded' } : { kind: 'tcp', host: '127.0.0.1', port: 1883 }
  const created = await tg.admin('POST', '/v1/instances', {
    id: instanceId, protocol: 'mqtt', hostnames: [hostname], backend, ...(opts.options ? { options: opts.options } : {}),
  })
  if (created.status !== 201 && created.status !== 200) throw new Error(`instance create: ${created.status} ${JSON.stringify(created.body)}`)
  const ca = await createCa({ commonName: `${instanceId} CA` })
  const fixture = fixtureFor(tg, { instanceId, hostname, ca })
  const registered = await fixture.registerCa(ca)
  if (registered.status !== 201 && registered.status !== 200) throw new Error(`CA register: ${registered.status} ${JSON.stringify(registered.body)}`)
  return fixture
}

/**
 * Clients and admin helpers for an instance that exists on `tg` (also one created through another
 * gateway on the same data, as in the restart tests).
 */
export function fixtureFor(tg: TestGateway, existing: { instanceId: string; hostname: string; ca: KeyAndCert }): MqttFixture {
  const { instanceId, hostname, ca } = existing
  const serverCa = readFileSync(join(tg.certsDir, 'server-ca.pem'), 'utf8')
  return {
    instanceId,
    hostname,
    ca,
    serverCa,
    async registerCa(caToRegister) {
      const code = await tg.admin('POST', `/v1/instances/${instanceId}/registration-code`)
      if (code.status !== 200 && code.status !== 201) throw new Error(`registration code: ${code.status}`)
      const verification = await createVerificationCertificate({ registrationCode: code.body.registrationCode, ca: caToRegister })
      return tg.admin('POST', `/v1/instances/${instanceId}/cas`, {
        caCertificate: caToRegister.cert, verificationCertificate: verification.cert,
      })
    },
    device(commonName = unique('device'), o = {}) {
      return createLeaf({ commonName, issuer: o.issuer ?? ca, kind: 'client', ...(o.notBefore ? { notBefore: o.notBefore } : {}), ...(o.notAfter ? { notAfter: o.notAfter } : {}) })
    },
    connect(cert, o = {}) {
      const { servername = hostname, ...rest } = o
      return new Promise((resolve, reject) => {
        const client = mqtt.connect({
          protocol: 'mqtts',
          host: '127.0.0.1',
          port: tg.mqttPort,
          servername,
          ca: serverCa,
          ...(cert ? { cert: cert.cert, key: cert.key } : {}),
          reconnectPeriod: 0,
          connectTimeout: 5000,
          clientId: unique('client'),
          ...rest,
        })
        client.once('connect', () => resolve(client))
        client.once('error', (err) => { client.end(true); reject(err) })
        client.once('close', () => reject(new Error('closed before CONNACK')))
      })
    },
    rawTls(cert, servername = hostname) {
      return new Promise((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1', port: tg.mqttPort, servername, ca: serverCa,
          ...(cert ? { cert: cert.cert, key: cert.key } : {}),
        })
        socket.once('secureConnect', () => resolve(socket))
        socket.once('error', reject)
      })
    },
  }
}

/** A subscriber connected straight to the local Mosquitto (not through the gateway). */
export async function directSubscriber(topic: string): Promise<{ client: MqttClient; next(timeoutMs?: number): Promise<{ topic: string; payload: Buffer }> }> {
  const client = mqtt.connect({ host: '127.0.0.1', port: 1883, reconnectPeriod: 0, clientId: unique('direct') })
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  await client.subscribeAsync(topic, { qos: 1 })
  const queue: Array<{ topic: string; payload: Buffer }> = []
  const waiters: Array<(m: { topic: string; payload: Buffer }) => void> = []
  client.on('message', (t, payload) => {
    const m = { topic: t, payload }
    const w = waiters.shift()
    if (w) w(m)
    else queue.push(m)
  })
  return {
    client,
    next(timeoutMs = 5000) {
      const m = queue.shift()
      if (m) return Promise.resolve(m)
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message on ${topic} within ${timeoutMs} ms`)), timeoutMs)
        waiters.push((msg) => { clearTimeout(timer); resolve(msg) })
      })
    },
  }
}

/** Resolves when the client's connection closes; rejects after timeoutMs. Answers the elapsed ms. */
export function closed(client: MqttClient, timeoutMs = 3000): Promise<number> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    if (client.disconnected || !client.connected) {
      // Already gone (or never connected): closure happened before we looked.
      if (!client.connected) return resolve(0)
    }
    const timer = setTimeout(() => reject(new Error(`client not closed within ${timeoutMs} ms`)), timeoutMs)
    client.stream.once('close', () => { clearTimeout(timer); resolve(Date.now() - started) })
  })
}
