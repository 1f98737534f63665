import { z } from 'zod'
import { AddressSet } from '../tunnel/cidr'
import { PROTOCOL_NAMES } from '../protocols/names'
import { TLS_PROFILE_NAMES } from '../tls/profiles'
import { parseHostPort, type RedisTarget } from '../store/redis-target'

/**
 * The one configuration schema (DESIGN §3 "Config"). Every object is strict: an unknown key is an
 * error naming its path, because a misspelt security setting silently ignored is worse than a
 * refusal to start. Defaults serve a single machine.
 */
const port = z.number().int().min(0).max(65535)
const cidr = z.string().refine((value) => {
  try {
    AddressSet.parse([value])
    return true
  } catch {
    return false
  }
}, 'expected an address or a CIDR such as 10.0.0.0/8 or fd00::/8')

const proxyProtocol = z.strictObject({
  mode: z.enum(['off', 'optional', 'required']).default('off'),
  trustedCidrs: z.array(cidr).default([]),
})

const listener = z.strictObject({
  name: z.string().min(1),
  protocol: z.enum(PROTOCOL_NAMES),
  host: z.string().default('0.0.0.0'),
  port,
  /** TLS termination on this listener; plaintext is for tests behind a trusted TLS offloader. */
  tls: z.boolean().default(true),
  /**
   * Instance for clients that send no SNI, or an IP literal (MQTT devices often connect by IP), or
   * a name no instance serves (DESIGN §4); without it such a name is refused UNKNOWN_INSTANCE.
   */
  defaultInstance: z.string().optional(),
  proxyProtocol: proxyProtocol.default({ mode: 'off', trustedCidrs: [] }),
})

const backendTls = z.strictObject({
  ca: z.string().optional(),
  servername: z.string().optional(),
  rejectUnauthorized: z.boolean().optional(),
})

export const backendSchema = z.strictObject({
  kind: z.enum(['tcp', 'embedded']).default('tcp'),
  host: z.string().optional(),
  port: port.optional(),
  tls: z.union([z.literal(false), backendTls]).optional(),
  username: z.string().optional(),
  password: z.string().optional(),
  vhost: z.string().optional(),
})

export const instanceOptionsSchema = z.strictObject({
  newDeviceStatus: z.enum(['ACTIVE', 'INACTIVE']).default('ACTIVE'),
  autoRegisterDevices: z.boolean().default(true),
  replaceBackendCredentials: z.boolean().default(false),
  usernameFromCertificate: z.boolean().default(false),
})

const instance = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
  protocol: z.enum(PROTOCOL_NAMES),
  hostnames: z.array(z.string().min(1)).default([]),
  backend: backendSchema.default({ kind: 'embedded' }),
  accessType: z.enum(['ANY_TUNNEL', 'SINGLE_TUNNEL']).default('ANY_TUNNEL'),
  vpcId: z.string().optional(),
  options: instanceOptionsSchema.default({
    newDeviceStatus: 'ACTIVE', autoRegisterDevices: true, replaceBackendCredentials: false, usernameFromCertificate: false,
  }),
  /** DESIGN §4: `enforce` decides every client action against the attached policies (docs/authorization.md). */
  authorization: z.strictObject({ mode: z.enum(['off', 'enforce']) }).default({ mode: 'off' }),
})

const auditSink = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('stdout') }),
  z.strictObject({ kind: z.literal('file'), path: z.string().min(1) }),
  z.strictObject({ kind: z.literal('redis-stream'), key: z.string().optional(), maxLen: z.number().int().positive().optional(), url: z.string().optional() }),
])

const hostPort = z.string().refine((value) => parseHostPort(value) !== undefined, 'expected host:port, e.g. redis-sentinel:26379 or [fd00::1]:26379')
const redisPassword = z.string().min(1).optional()

/**
 * `store.kind: redis` (DESIGN §4 "Production") in one of three forms: `url` (one server; the
 * default form, `redis://127.0.0.1:6379` when none is given), `sentinel: {masterName, nodes,
 * password?}` (the master the sentinels name; `password` for the data nodes and the sentinels) or
 * `cluster: {nodes, password?}` (seed nodes; the client finds the rest). Each takes `keyPrefix`;
 * on a cluster it is also the hash tag that keeps a write's keys in one slot, so it may not be
 * empty (nor start with `}`). One object rather than a union of three, so that a wrong key is named by its path.
 */
const redisStore = z.strictObject({
  kind: z.literal('redis'),
  url: z.string().min(1).optional(),
  sentinel: z.strictObject({ masterName: z.string().min(1), nodes: z.array(hostPort).min(1), password: redisPassword }).optional(),
  cluster: z.strictObject({ nodes: z.array(hostPort).min(1), password: redisPassword }).optional(),
  keyPrefix: z.string().default('portcullis:'),
  /** Where the root AccessKey and master key files live (also with a Redis store). */
  dataDir: z.string().default('./data'),
}).superRefine((value, ctx) => {
  const forms = (['url', 'sentinel', 'cluster'] as const).filter((form) => value[form] !== undefined)
  if (forms.length > 1) {
    ctx.addIssue({ code: 'custom', path: [forms[1] as string], message: `give one of url, sentinel or cluster, not ${forms.join(' and ')}` })
  }
  if (value.cluster !== undefined && (value.keyPrefix === '' || value.keyPrefix.startsWith('}'))) {
    ctx.addIssue({ code: 'custom', path: ['keyPrefix'], message: 'a cluster store needs a non-empty keyPrefix that does not start with "}": it is the hash tag that keeps each write in one slot' })
  }
}).transform((value): { kind: 'redis'; keyPrefix: string; dataDir: string } & RedisTarget => {
  const common = { kind: value.kind, keyPrefix: value.keyPrefix, dataDir: value.dataDir }
  const password = (p: string | undefined): { password?: string } => (p === undefined ? {} : { password: p })
  if (value.sentinel !== undefined) {
    const { masterName, nodes } = value.sentinel
    return { ...common, sentinel: { masterName, nodes, ...password(value.sentinel.password) } }
  }
  if (value.cluster !== undefined) return { ...common, cluster: { nodes: value.cluster.nodes, ...password(value.cluster.password) } }
  return { ...common, url: value.url ?? 'redis://127.0.0.1:6379' }
})

const store = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('embedded'), dataDir: z.string().default('./data') }),
  redisStore,
])

const limits = z.strictObject({
  /** One deadline for everything before the splice: PROXY header, TLS, CONNECT / Start-Ok. */
  handshakeTimeoutMs: z.number().int().positive().default(10_000),
  /** Largest MQTT CONNECT accepted (it may carry a will message). */
  maxConnectBytes: z.number().int().positive().default(64 * 1024),
  /** AMQP frame-max enforced until the connection is spliced. */
  maxHandshakeFrameBytes: z.number().int().min(4096).default(131_072),
  backendConnectTimeoutMs: z.number().int().positive().default(5_000),
  /**
   * AMQP warm pool (src/protocols/amqp/backend-pool/): per instance (and set of client
   * capabilities), up to `size` backend connections logged in ahead of their clients and parked
   * at RabbitMQ's Connection.Tune, so that a client's Open-Ok does not wait on the broker's
   * handshake; each is used by one client only. Filled only for instances that have AMQP clients,
   * a parked connection is closed after `maxIdleMs` (kept under RabbitMQ's 10 s
   * `handshake_timeout`) and replaced only if clients came meanwhile. Default off (`size: 0`):
   * with it on the broker sees the gateway's client-properties, not the client's own.
   */
  amqpWarmPool: z.strictObject({
    size: z.number().int().min(0).max(64).default(0),
    maxIdleMs: z.number().int().min(100).max(9_000).default(5_000),
  }).default({ size: 0, maxIdleMs: 5_000 }),
  maxConnections: z.number().int().positive().default(100_000),
  /** Dynamic AMQP logins: accepted distance of the password timestamp from now. */
  credentialWindowMs: z.number().int().positive().default(15 * 60_000),
  maxAdminBodyBytes: z.number().int().positive().default(1024 * 1024),
  /**
   * Client → broker bytes all sessions may move per event-loop turn before their readers wait a
   * turn, so that deliveries to subscribers are never starved by publishers (src/proxy/pump.ts).
   */
  upstreamBytesPerTick: z.number().int().min(16 * 1024).default(64 * 1024),
  /**
   * How long cached decisions (CA/device state, AccessKeys, blacklist, tunnel rules) may still
   * admit connections after the store was lost (DESIGN §4 "Admission on stale state"); past it,
   * new connections are refused BACKEND_UNAVAILABLE and live sessions stay.
   */
  maxStaleMs: z.number().int().positive().default(30_000),
  /**
   * Abuse limits (DESIGN §4 "Limits and TLS"), all per process (each worker counts its own),
   * applied to the real client address (after the PROXY header), before TLS.
   * Token bucket per source: `perSecond` refill, `burst` capacity; absent = off. Refused RATE_LIMITED.
   */
  connectRatePerSource: z.strictObject({
    perSecond: z.number().positive(),
    burst: z.number().int().positive(),
  }).optional(),
  /** Handshakes (accept → splice) in flight at once, globally; the excess queues briefly, then RATE_LIMITED. */
  maxHandshakesInFlight: z.number().int().positive().default(1024),
  /**
   * `adaptive`: under maxHandshakesInFlight, the number in flight follows what this process
   * completes while its event loop is saturated, so that an admitted handshake takes about a
   * quarter of handshakeTimeoutMs and the rest are refused RATE_LIMITED before TLS
   * (src/proxy/limits/adaptive-limit.ts). `fixed`: maxHandshakesInFlight alone.
   */
  handshakeAdmission: z.enum(['adaptive', 'fixed']).default('adaptive'),
  /**
   * How many handshakes may wait for a slot, and for how long (at most half of handshakeTimeoutMs),
   * before RATE_LIMITED, still before TLS. Long on purpose: a device refused backs off and comes
   * back seconds later, one kept waiting is served as soon as a slot frees. With `adaptive`, one
   * whose turn would come later than the wait at the measured completion rate is refused at once
   * (src/proxy/limits/handshake-gate.ts).
   */
  handshakeQueueLength: z.number().int().min(0).default(4096),
  handshakeQueueWaitMs: z.number().int().min(0).max(30_000).default(5_000),
  /**
   * Concurrent connections (handshaking and live) per source address; absent = off, because a
   * gateway behind a balancer that sends no PROXY header sees every client as the balancer.
   */
  maxConnectionsPerSource: z.number().int().positive().optional(),
  /** A paused splice direction that does not drain within this closes the session (SLOW_CONSUMER). */
  slowConsumerTimeoutMs: z.number().int().positive().default(60_000),
  /** Failed authentications per source per minute after which it is refused RATE_LIMITED; absent = off. */
  failedAuthPerSource: z.strictObject({
    perMinute: z.number().int().positive(),
  }).optional(),
  /**
   * Under `authorization.mode: enforce`, the most bytes a session's filter holds to decide one
   * packet (an MQTT PUBLISH header with its properties, a SUBSCRIBE, an AMQP method frame); a
   * longer one ends the session PROTOCOL_ERROR. Payloads are never held.
   */
  maxInspectedPacketBytes: z.number().int().min(1024).default(256 * 1024),
  /** Gateway answers (PUBACK 0x87, SUBACK, Channel.Close) a client may leave unread before its session ends SLOW_CONSUMER. */
  maxInjectedBacklogBytes: z.number().int().min(1024).default(1024 * 1024),
})

/**
 * Where the master key comes from (DESIGN §4 "Operations and keys"; src/keys/). Absent: the
 * wave-1 sources (PORTCULLIS_MASTER_KEY, PORTCULLIS_MASTER_KEY_FILE, else a key file generated in
 * the data directory on first start). Present, the named source must answer: a key that cannot be
 * reached is an error at start, never a newly generated key. `previous` keys only open secrets
 * sealed before a rotation (`portcullis keys rotate`), after which they can be removed.
 */
const MASTER_KEY_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
// PORTCULLIS_* variables are config overrides (load.ts), so a PIN variable of that form could not
// be told from one; the default is the one exception load.ts knows.
const envName = z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name (A-Z, 0-9, _)')
  .refine((name) => !name.startsWith('PORTCULLIS_') || name === 'PORTCULLIS_PKCS11_PIN', 'PORTCULLIS_* names are config overrides; use PORTCULLIS_PKCS11_PIN or a name of another form')
const masterKeyVariants = {
  /** PORTCULLIS_MASTER_KEY (Base64 of 32 bytes), its id PORTCULLIS_MASTER_KEY_ID. */
  env: { provider: z.literal('env') },
  /** A JSON key file ({keys: [{keyId, key}]}, the last is current), mode 0600 or 0640. */
  file: { provider: z.literal('file'), path: z.string().min(1) },
  /** A non-extractable AES-256 key in a PKCS#11 token; the PIN is read from the variable `pinEnv`. */
  pkcs11: {
    provider: z.literal('pkcs11'),
    module: z.string().min(1),
    tokenLabel: z.string().min(1).max(32),
    pinEnv: envName.default('PORTCULLIS_PKCS11_PIN'),
    keyLabel: z.string().min(1),
    /** The id sealed records carry; default the key label (which must then be a valid id). */
    keyId: z.string().regex(MASTER_KEY_ID, 'letters, digits, _ . - (at most 64)').optional(),
  },
}
const masterKeySource = z.discriminatedUnion('provider', [
  z.strictObject(masterKeyVariants.env), z.strictObject(masterKeyVariants.file), z.strictObject(masterKeyVariants.pkcs11),
])
const previousKeys = { previous: z.array(masterKeySource).default([]) }
const masterKey = z.discriminatedUnion('provider', [
  z.strictObject({ ...masterKeyVariants.env, ...previousKeys }),
  z.strictObject({ ...masterKeyVariants.file, ...previousKeys }),
  z.strictObject({ ...masterKeyVariants.pkcs11, ...previousKeys }),
])

/** How `keys rotate` paces itself: records re-wrapped per batch, and a pause between batches. */
const keyRotation = z.strictObject({
  batchSize: z.number().int().min(1).max(10_000).default(50),
  pauseMs: z.number().int().min(0).max(60_000).default(0),
})

export const configSchema = z.strictObject({
  listeners: z.array(listener).default([
    { name: 'mqtts', protocol: 'mqtt', host: '0.0.0.0', port: 8883, tls: true, proxyProtocol: { mode: 'off', trustedCidrs: [] } },
    { name: 'amqps', protocol: 'amqp', host: '0.0.0.0', port: 5671, tls: true, proxyProtocol: { mode: 'off', trustedCidrs: [] } },
  ]),
  admin: z.strictObject({
    host: z.string().default('127.0.0.1'),
    port: port.default(9080),
  }).default({ host: '127.0.0.1', port: 9080 }),
  store: store.default({ kind: 'embedded', dataDir: './data' }),
  networks: z.array(z.strictObject({ cidr, vpcId: z.string().min(1) })).default([]),
  instances: z.array(instance).default([]),
  audit: z.strictObject({
    sinks: z.array(auditSink).default([{ kind: 'stdout' }]),
    /** Events kept in memory for `GET /v1/audit`. */
    recentEvents: z.number().int().positive().default(10_000),
  }).default({ sinks: [{ kind: 'stdout' }], recentEvents: 10_000 }),
  tls: z.strictObject({
    certFile: z.string().optional(),
    keyFile: z.string().optional(),
    /** Where dev certificates are generated on first start when certFile/keyFile are absent. */
    devCertsDir: z.string().default('./certs'),
    /** Mozilla server-side TLS: intermediate = TLS 1.2 + 1.3, ECDHE AEAD suites; modern = TLS 1.3 only (tls/profiles.ts). */
    profile: z.enum(TLS_PROFILE_NAMES).default('intermediate'),
  }).default({ devCertsDir: './certs', profile: 'intermediate' }),
  limits: limits.default(limits.parse({})),
  /**
   * Graceful stop on SIGTERM (DESIGN §4): `/readyz` answers 503 at once, listeners keep accepting
   * for readinessDelayMs (time for a load balancer to notice), then stop; sessions get their
   * protocol's goodbye and have at most drainTimeoutMs to end before they are cut.
   */
  shutdown: z.strictObject({
    readinessDelayMs: z.number().int().min(0).default(0),
    drainTimeoutMs: z.number().int().min(0).default(10_000),
  }).default({ readinessDelayMs: 0, drainTimeoutMs: 10_000 }),
  workers: z.union([z.number().int().positive(), z.literal('auto')]).default(1),
  /**
   * `watchFile`: the gateway re-reads its config file when its content changes (polled every 2 s),
   * as a SIGHUP would — for a mounted ConfigMap, which Kubernetes updates in place (the chart's
   * `configRollout: reload`).
   */
  reload: z.strictObject({ watchFile: z.boolean().default(false) }).default({ watchFile: false }),
  masterKey: masterKey.optional(),
  keyRotation: keyRotation.default({ batchSize: 50, pauseMs: 0 }),
  log: z.strictObject({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  }).default({ level: 'info' }),
  /** Start a demo MQTT instance on the embedded broker with the dev CA registered (npm start). */
  demo: z.boolean().default(false),
})

export type Config = z.infer<typeof configSchema>
export type ListenerConfig = Config['listeners'][number]
export type InstanceConfig = Config['instances'][number]
export type AuditSinkConfig = Config['audit']['sinks'][number]
export type MasterKeyConfig = NonNullable<Config['masterKey']>
export type MasterKeySourceConfig = MasterKeyConfig['previous'][number]
