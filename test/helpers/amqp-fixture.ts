/**
 * An AMQP instance on a test gateway in front of the machine's RabbitMQ, an AccessKey created
 * through the admin API, credentials derived the way a client library does, and amqplib
 * connections over real TLS (SNI = the instance hostname).
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import amqplib from 'amqplib'
import { deriveCredentials, encodeUserName, passwordFor } from '../../src/auth/credentials'
import { createAccountBody } from '../../src/cli/commands/static-account'
import type { TestGateway } from './gateway'
import { unique } from './gateway'

export interface AmqpFixture {
  instanceId: string
  hostname: string
  serverCa: string
  accessKeyId: string
  accessKeySecret: string
  dynamicCredentials(opts?: { ts?: number; instanceId?: string; accessKeyId?: string; secret?: string }): { userName: string; password: string }
  stsCredentials(securityToken: string): { userName: string; password: string }
  connect(creds: { userName: string; password: string }, opts?: { servername?: string | false; query?: string; vhost?: string; mechanism?: 'PLAIN' | 'AMQPLAIN'; ca?: string }): Promise<amqplib.ChannelModel>
  createAccessKey(): Promise<{ accessKeyId: string; accessKeySecret: string }>
  /** CreateAccount through the admin API, signed with the key's secret as the CLI does. */
  createStaticAccount(key?: { accessKeyId: string; accessKeySecret: string }): Promise<{ status: number; body: any }>
}

export async function amqpFixture(tg: TestGateway, opts: { backendPort?: number; vhost?: string; backend?: { username: string; password: string } } = {}): Promise<AmqpFixture> {
  const instanceId = unique('amq')
  const hostname = `${instanceId}.portcullis.local`
  const created = await tg.admin('POST', '/v1/instances', {
    id: instanceId, protocol: 'amqp', hostnames: [hostname],
    backend: { kind: 'tcp', host: '127.0.0.1', port: opts.backendPort ?? 5672, username: opts.backend?.username ?? 'guest', password: opts.backend?.password ?? 'guest', ...(opts.vhost ? { vhost: opts.vhost } : {}) },
  })
  if (created.status !== 201) throw new Error(`instance create: ${created.status} ${JSON.stringify(created.body)}`)
  const createAccessKey = async (): Promise<{ accessKeyId: string; accessKeySecret: string }> => {
    const res = await tg.admin('POST', '/v1/access-keys', { description: 'test' })
    if (res.status !== 201) throw new Error(`access key create: ${res.status} ${JSON.stringify(res.body)}`)
    return res.body
  }
  const key = await createAccessKey()
  const serverCa = readFileSync(join(tg.certsDir, 'server-ca.pem'), 'utf8')
  return {
    instanceId,
    hostname,
    serverCa,
    ...key,
    createAccessKey,
    createStaticAccount(k = key) {
      return tg.admin('POST', `/v1/instances/${instanceId}/static-accounts`, createAccountBody(instanceId, k.accessKeyId, k.accessKeySecret, String(Date.now())))
    },
    dynamicCredentials(o = {}) {
      const ts = String(o.ts ?? Date.now())
      return {
        userName: encodeUserName({ type: 0, instanceId: o.instanceId ?? instanceId, accessKeyId: o.accessKeyId ?? key.accessKeyId }),
        password: passwordFor(o.secret ?? key.accessKeySecret, ts),
      }
    },
    stsCredentials(securityToken) {
      const derived = deriveCredentials({
        instanceId, accessKeyId: key.accessKeyId, accessKeySecret: key.accessKeySecret, ts: String(Date.now()), kind: 'dynamic', securityToken,
      })
      return { userName: derived.userName, password: derived.password }
    },
    connect(creds, o = {}) {
      const servername = o.servername === undefined ? hostname : o.servername
      const url = `amqps://${encodeURIComponent(creds.userName)}:${encodeURIComponent(creds.password)}@127.0.0.1:${tg.amqpPort}/${encodeURIComponent(o.vhost ?? '/')}${o.query ? `?${o.query}` : ''}`
      const credentials = o.mechanism === 'AMQPLAIN' ? { credentials: amqplib.credentials.amqplain(creds.userName, creds.password) } : {}
      return amqplib.connect(url, { ca: [o.ca ?? serverCa], ...(servername === false ? {} : { servername }), timeout: 5000, ...credentials })
    },
  }
}

/** A plain connection straight to the local RabbitMQ, to see what arrived. */
export function directAmqp(): Promise<amqplib.ChannelModel> {
  return amqplib.connect('amqp://guest:guest@127.0.0.1:5672/')
}
