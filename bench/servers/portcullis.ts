import { randomBytes } from 'node:crypto'
import { execFileSync } from 'node:child_process'
import Redis from 'ioredis'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { signRequest } from '../../src/admin/signing'
import { createVerificationCertificate, type KeyAndCert } from '../../src/ca/pki'
import { enforceBenchPolicies } from './bench-policies'
import { startPinned, type ServerProcess } from './child'

const ROOT = join(__dirname, '../../..')

export const MQTT_INSTANCE = 'bench-mqtt'
export const AMQP_INSTANCE = 'bench-amqp'
export const MQTT_HOSTNAME = 'mqtt.bench.local'
export const AMQP_HOSTNAME = 'amqp.bench.local'

export interface Portcullis extends ServerProcess {
  mqttPort: number
  amqpPort: number
  /** The AccessKey AMQP clients derive their credentials from (DESIGN §1). */
  accessKey: { accessKeyId: string; accessKeySecret: string }
}

/** `portcullis_authorization_decisions_total` by action (`mqtt:Publish` …): allowed and denied. */
export type DecisionCounts = Record<string, { allow: number; deny: number }>

/**
 * Portcullis as its own process — the CLI `portcullis start` on a generated config — pinned to
 * the server core. By default one process (config `workers: 1`) with the embedded store and a
 * file audit sink in the run's directory: the bench needs no Redis and leaves nothing behind.
 * With `--workers N` (N > 1) the workers share a Redis store under a run-unique prefix, deleted
 * at the end, and the CPU figures add up the primary and every worker.
 *
 * `name` keeps two gateways of one run apart (config, data directory, audit file, Redis prefix):
 * the embedded store locks its directory (DESIGN §4, STORE_LOCKED).
 */
export async function startPortcullis(o: {
  /** Process name and file prefix; default `portcullis`. */
  name?: string
  dir: string
  core: number
  serverCertFile: string
  serverKeyFile: string
  /** `--workers N`: N > 1 runs node:cluster workers, which share state through Redis. */
  workers: number
  /** Node options before the CLI (after BENCH_PORTCULLIS_NODE_ARGS), e.g. a diagnostic `--require`. */
  nodeArgs?: readonly string[]
}): Promise<Omit<Portcullis, 'accessKey'> & { admin: AdminClient; workerPids: () => number[]; auditFile: string }> {
  const name = o.name ?? 'portcullis'
  const config = join(o.dir, `${name}.yaml`)
  const auditFile = join(o.dir, `${name}-audit.jsonl`)
  const redisPrefix = `portcullis-bench:${process.pid}-${Date.now()}-${name}:`
  const store = o.workers > 1
    ? { kind: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: redisPrefix, dataDir: join(o.dir, `${name}-data`) }
    : { kind: 'embedded', dataDir: join(o.dir, `${name}-data`) }
  writeFileSync(config, stringify({
    listeners: [
      { name: 'mqtts', protocol: 'mqtt', host: '127.0.0.1', port: 0 },
      { name: 'amqps', protocol: 'amqp', host: '127.0.0.1', port: 0 },
    ],
    admin: { host: '127.0.0.1', port: 0 },
    store,
    tls: { certFile: o.serverCertFile, keyFile: o.serverKeyFile },
    audit: { sinks: [{ kind: 'file', path: auditFile }] },
    log: { level: 'warn' },
    workers: o.workers,
    ...amqpWarmPoolFromEnv(),
  }))
  const accessKeyId = 'benchroot'
  const accessKeySecret = randomBytes(24).toString('base64url')
  const server = await startPinned({
    name, core: o.core, command: process.execPath,
    // BENCH_PORTCULLIS_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the gateway
    // (NODE_OPTIONS refuses --cpu-prof); the profile is written when the bench stops it.
    args: [...(process.env.BENCH_PORTCULLIS_NODE_ARGS ?? '').split(' ').filter((a) => a !== ''), ...(o.nodeArgs ?? []), join(ROOT, 'bin/portcullis.js'), 'start', '-c', config],
    cwd: o.dir,
    env: {
      ...process.env,
      PORTCULLIS_ROOT_ACCESS_KEY_ID: accessKeyId,
      PORTCULLIS_ROOT_ACCESS_KEY_SECRET: accessKeySecret,
      PORTCULLIS_MASTER_KEY: randomBytes(32).toString('base64'),
      // BENCH_PORTCULLIS_PRELOAD=libjemalloc.so.2 runs the gateway as the container image does
      // (its ENV LD_PRELOAD), leaving the other endpoints on the system allocator.
      ...(process.env.BENCH_PORTCULLIS_PRELOAD !== undefined ? { LD_PRELOAD: process.env.BENCH_PORTCULLIS_PRELOAD } : {}),
    },
    ready: (out) => /admin API on \S+;/.test(out) && /listener mqtts on/.test(out) && /listener amqps on/.test(out),
  })
  const out = server.output()
  const port = (name: string): number => Number(new RegExp(`listener ${name} on [\\d.]+:(\\d+)`).exec(out)?.[1])
  const adminUrl = /admin API on (http:\/\/\S+?);/.exec(out)?.[1] ?? ''
  // The workers are the primary's children (and inherit its core); their CPU is the proxy's too.
  const workerPids = (): number[] => {
    try {
      return execFileSync('pgrep', ['-P', String(server.pid)], { encoding: 'utf8' }).split('\n').filter((l) => l !== '').map(Number)
    } catch {
      return []
    }
  }
  const stop = async (): Promise<void> => {
    await server.stop()
    if (o.workers > 1) {
      const redis = new Redis('redis://127.0.0.1:6379')
      const keys = await redis.keys(`${redisPrefix}*`).catch(() => [])
      if (keys.length > 0) await redis.del(...keys).catch(() => 0)
      redis.disconnect()
    }
  }
  return { ...server, stop, workerPids, auditFile, mqttPort: port('mqtts'), amqpPort: port('amqps'), admin: new AdminClient(adminUrl, accessKeyId, accessKeySecret) }
}

/**
 * BENCH_PORTCULLIS_AMQP_POOL="SIZE[,MAX_IDLE_MS]" turns the AMQP warm pool on for the run
 * (`limits.amqpWarmPool`, off by default), to compare AMQP connects to Open-Ok with and without it.
 */
function amqpWarmPoolFromEnv(): { limits?: { amqpWarmPool: { size: number; maxIdleMs?: number } } } {
  const spec = process.env.BENCH_PORTCULLIS_AMQP_POOL
  if (spec === undefined || spec === '') return {}
  const [size, maxIdleMs] = spec.split(',').map(Number)
  if (size === undefined || !Number.isInteger(size)) throw new Error(`BENCH_PORTCULLIS_AMQP_POOL=${spec}: expected SIZE[,MAX_IDLE_MS]`)
  return { limits: { amqpWarmPool: { size, ...(maxIdleMs !== undefined ? { maxIdleMs } : {}) } } }
}

/** Signed admin API calls (DESIGN §3 "Admin API"), as the CLI and the tests make them. */
export class AdminClient {
  constructor(private readonly url: string, private readonly keyId: string, private readonly secret: string) {}

  async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? '' : JSON.stringify(body)
    const headers = signRequest({ method, url: path, body: payload, accessKeyId: this.keyId, accessKeySecret: this.secret })
    const res = await fetch(this.url + path, {
      method,
      headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: payload }),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`admin ${method} ${path}: HTTP ${res.status} ${text}`)
    return (text === '' ? undefined : JSON.parse(text)) as T
  }

  /**
   * The authorization decisions counted so far, from the unsigned `/metrics` (DESIGN §4
   * `portcullis_authorization_decisions_total{protocol,action,result}`). With `workers: N` this
   * is the one process that answers the admin API.
   */
  async decisions(): Promise<DecisionCounts> {
    const res = await fetch(`${this.url}/metrics`)
    if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`)
    const counts: DecisionCounts = {}
    for (const m of (await res.text()).matchAll(DECISION_LINE)) {
      const [, labels = '', value = '0'] = m
      const action = /action="([^"]*)"/.exec(labels)?.[1]
      const result = /result="([^"]*)"/.exec(labels)?.[1]
      if (action === undefined || (result !== 'allow' && result !== 'deny')) continue
      const entry = (counts[action] ??= { allow: 0, deny: 0 })
      entry[result] += Number(value)
    }
    return counts
  }
}

const DECISION_LINE = /^portcullis_authorization_decisions_total\{([^}]*)\} (\S+)$/gm

/**
 * The same setup an operator does: an MQTT instance in front of the bench Mosquitto with the
 * client CA registered (registration code → verification certificate → upload), an AMQP instance
 * in front of RabbitMQ with the broker credentials, and an AccessKey for the AMQP clients.
 *
 * With `authorization: 'enforce'` both instances are created enforcing (DESIGN §4), and the
 * bench's policies are put and attached before any client connects (bench-policies.ts); the
 * AMQP AccessKey is then one of a sub-account, since every key of `root` is granted everything.
 */
export async function configurePortcullis(admin: AdminClient, o: {
  mqttBackendPort: number
  amqp: { port: number; username: string; password: string }
  clientCa: KeyAndCert
  authorization?: 'off' | 'enforce'
}): Promise<Portcullis['accessKey']> {
  const enforce = o.authorization === 'enforce'
  const authorization = enforce ? { authorization: { mode: 'enforce' } } : {}
  await admin.call('POST', '/v1/instances', {
    id: MQTT_INSTANCE, protocol: 'mqtt', hostnames: [MQTT_HOSTNAME],
    backend: { kind: 'tcp', host: '127.0.0.1', port: o.mqttBackendPort }, ...authorization,
  })
  const { registrationCode } = await admin.call<{ registrationCode: string }>('POST', `/v1/instances/${MQTT_INSTANCE}/registration-code`)
  const verification = await createVerificationCertificate({ registrationCode, ca: o.clientCa })
  await admin.call('POST', `/v1/instances/${MQTT_INSTANCE}/cas`, { caCertificate: o.clientCa.cert, verificationCertificate: verification.cert })
  await admin.call('POST', '/v1/instances', {
    id: AMQP_INSTANCE, protocol: 'amqp', hostnames: [AMQP_HOSTNAME],
    backend: { kind: 'tcp', host: '127.0.0.1', port: o.amqp.port, username: o.amqp.username, password: o.amqp.password }, ...authorization,
  })
  if (enforce) return enforceBenchPolicies(admin, { mqttInstance: MQTT_INSTANCE, amqpInstance: AMQP_INSTANCE })
  return admin.call<Portcullis['accessKey']>('POST', '/v1/access-keys', { description: 'bench' })
}
