/**
 * The AMQP warm pool's bookkeeping (src/protocols/amqp/backend-pool/warm-pool.ts) with its login
 * replaced by in-memory socket pairs whose far end answers as RabbitMQ does after Tune (Open-Ok,
 * Close-Ok): demand, refill, keys, expiry, loss while parked, instance changes and close. The
 * real logins, against the machine's RabbitMQ, are test/integration/amqp-warm-pool.test.ts.
 */
import t from 'tap'
import type { Duplex } from 'node:stream'
import pino from 'pino'
import { AmqpWarmPool, type WarmPoolSettings } from '../../src/protocols/amqp/backend-pool/warm-pool'
import type { PoolLogin } from '../../src/protocols/amqp/backend-pool/login-ahead'
import { claimWarmHandshake } from '../../src/protocols/amqp/backend-pool/handed-out'
import { amqpBackend } from '../../src/protocols/amqp/stages/backend'
import { HandshakeFrames } from '../../src/protocols/amqp/handshake-frames'
import { FrameReader } from '../../src/protocols/amqp/frame-codec'
import { decodeMethod, encodeMethodFrame, type ConnectionMethod } from '../../src/protocols/amqp/methods'
import { bool, table, type FieldTable } from '../../src/protocols/amqp/field-table'
import type { AmqpHello } from '../../src/protocols/amqp/phases'
import type { Admitted, Connected } from '../../src/proxy/lifecycle/context'
import { Metrics } from '../../src/observability/metrics'
import type { InstanceRecord } from '../../src/store/records'
import { configSchema } from '../../src/config/schema'
import { socketPair } from '../helpers/socket-pair'
import { deadline, identified, instance } from '../helpers/contexts'
import { authorizationWithoutPolicies } from '../helpers/authorization'
import { waitFor } from '../helpers/wait'

const TUNE = { channelMax: 2047, frameMax: 131072, heartbeat: 60 }
const FULL_CAPS = new Map([['capabilities', table([['consumer_cancel_notify', bool(true)], ['connection.blocked', bool(true)]])]]) as FieldTable
const NO_CANCEL_NOTIFY = new Map([['capabilities', table([['connection.blocked', bool(true)], ['consumer_cancel_notify', bool(false)]])]]) as FieldTable

function methodsIn(reader: FrameReader, chunk: Buffer): ConnectionMethod[] {
  const read = reader.push(chunk)
  if (read.kind !== 'frames') return []
  return read.frames.flatMap((f) => {
    const m = decodeMethod(f.payload)
    return m.ok && m.method.name !== 'other' ? [m.method] : []
  })
}

/** The broker's side after Tune, as RabbitMQ answers a client that finishes its handshake and closes. */
function answerAsBroker(peer: Duplex, heard: ConnectionMethod[]): void {
  const reader = new FrameReader(1 << 20)
  peer.on('data', (chunk: Buffer) => {
    for (const m of methodsIn(reader, chunk)) {
      heard.push(m)
      if (m.name === 'connection.open') peer.write(encodeMethodFrame({ name: 'connection.open-ok', knownHosts: '' }))
      if (m.name === 'connection.close') peer.write(encodeMethodFrame({ name: 'connection.close-ok' }))
    }
  })
}

interface FakeLogin {
  readonly instance: InstanceRecord
  readonly properties: FieldTable
  readonly peer: Duplex
  readonly heard: ConnectionMethod[]
}

function fakeBackend(): { login: PoolLogin; logins: FakeLogin[]; failing: { on: boolean }; hold: { on: boolean; release: Array<() => void> } } {
  const logins: FakeLogin[] = []
  const failing = { on: false }
  const hold = { on: false, release: [] as Array<() => void> }
  const login: PoolLogin = async (inst, properties, signal) => {
    if (hold.on) await new Promise<void>((resolve) => { hold.release.push(resolve); signal.addEventListener('abort', () => resolve(), { once: true }) })
    if (signal.aborted) return new Error('aborted')
    if (failing.on) return new Error('backend down')
    const pair = socketPair()
    const heard: ConnectionMethod[] = []
    answerAsBroker(pair.peer, heard)
    logins.push({ instance: inst, properties, peer: pair.peer, heard })
    return { socket: pair.gateway, tuned: { kind: 'tuned', tune: TUNE, frames: new HandshakeFrames(pair.gateway, signal, 'backend', 4096) } }
  }
  return { login, logins, failing, hold }
}

function settings(over: Partial<WarmPoolSettings> = {}): WarmPoolSettings {
  return { size: 2, maxIdleMs: 5000, loginTimeoutMs: 1000, maxFrameBytes: 4096, ...over }
}

const AMQP_INSTANCE = instance({ id: 'amq-1', protocol: 'amqp', backend: { kind: 'tcp', host: '127.0.0.1', port: 5672, username: 'u', password: 'p' } })

function admitted(inst: InstanceRecord, clientProperties: FieldTable): Admitted<unknown> {
  const { gateway } = socketPair()
  return { ...identified(gateway, { clientProperties }, { instance: inst }), phase: 'admitted' }
}

function pool(o: { settings?: () => WarmPoolSettings; login: PoolLogin; current?: (id: string) => InstanceRecord | undefined; metrics?: Metrics }): AmqpWarmPool {
  return new AmqpWarmPool({
    settings: o.settings ?? (() => settings()),
    processId: 'proc-test', metrics: o.metrics ?? new Metrics(), logger: pino({ level: 'silent' }), login: o.login,
    ...(o.current !== undefined ? { currentInstance: o.current } : {}),
  })
}

async function counter(metrics: Metrics, name: string, labels: Record<string, string>): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)?.get()
  return m?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value ?? 0
}

t.test('no pool until a client comes; its login fills the pool to size and the next client takes one', async (t) => {
  const backend = fakeBackend()
  const metrics = new Metrics()
  const p = pool({ login: backend.login, metrics })
  t.teardown(() => p.close())
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(backend.logins.length, 0, 'nothing is opened ahead of demand')
  t.equal(p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp'), undefined, 'the first client finds none: cold path')
  await waitFor(() => p.parkedCount() === 2, 1000, 'two parked')
  t.equal(backend.logins.length, 2)
  const props = backend.logins[0]?.properties
  t.same([...(props?.get('capabilities') as { value: FieldTable }).value.keys()], ['consumer_cancel_notify', 'connection.blocked'], 'a pooled login announces the key\'s capabilities')
  t.match((props?.get('portcullis') as { value: FieldTable }).value.get('process_id'), { tag: 'S' })

  const socket = p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  t.ok(socket, 'the next client takes a parked one')
  const handshake = claimWarmHandshake(socket!)
  t.same(handshake?.tuned.tune, TUNE, 'with its login, claimed once by the backend stage')
  t.equal(claimWarmHandshake(socket!), undefined, 'and only once')
  await waitFor(() => p.parkedCount() === 2, 1000, 'topped up again')
  t.equal(backend.logins.length, 3, 'the take started one login to top the pool up')
  t.equal(await counter(metrics, 'portcullis_amqp_backend_pool_taken_total', { instance: 'amq-1' }), 1)
  t.equal(await counter(metrics, 'portcullis_amqp_backend_pool_missed_total', { instance: 'amq-1' }), 1)
  t.equal(await counter(metrics, 'portcullis_amqp_backend_pool_parked', { instance: 'amq-1' }), 2)
})

t.test('serves nobody but AMQP clients of TCP backends, and nothing when size is 0', async (t) => {
  const backend = fakeBackend()
  let size = 0
  const p = pool({ login: backend.login, settings: () => settings({ size }) })
  t.teardown(() => p.close())
  t.equal(p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp'), undefined)
  size = 2
  t.equal(p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'mqtt'), undefined)
  t.equal(p.take(admitted(instance({ id: 'mq', protocol: 'mqtt' }), FULL_CAPS), 'amqp'), undefined)
  t.equal(p.take(admitted(instance({ id: 'emb', protocol: 'amqp', backend: { kind: 'embedded' } }), FULL_CAPS), 'amqp'), undefined)
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(backend.logins.length, 0, 'none of those started a login')
})

t.test('a client never gets a connection that announced a capability it did not', async (t) => {
  const backend = fakeBackend()
  const p = pool({ login: backend.login, settings: () => settings({ size: 1 }) })
  t.teardown(() => p.close())
  p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await waitFor(() => p.parkedCount() === 1, 1000, 'one parked for full capabilities')
  t.equal(p.take(admitted(AMQP_INSTANCE, NO_CANCEL_NOTIFY), 'amqp'), undefined, 'a client without consumer_cancel_notify does not get it')
  await waitFor(() => p.parkedCount() === 2, 1000, 'one parked per key')
  const socket = p.take(admitted(AMQP_INSTANCE, NO_CANCEL_NOTIFY), 'amqp')
  t.ok(socket)
  const login = backend.logins.find((l) => l.peer !== undefined && (l.properties.get('capabilities') as { value: FieldTable }).value.size === 1)
  t.same([...((login?.properties.get('capabilities') as { value: FieldTable }).value.keys())], ['connection.blocked'], 'it gets one that announced connection.blocked only')
})

t.test('a parked connection the broker closed is never handed out', async (t) => {
  const backend = fakeBackend()
  const metrics = new Metrics()
  const p = pool({ login: backend.login, metrics })
  t.teardown(() => p.close())
  p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await waitFor(() => p.parkedCount() === 2, 1000, 'two parked')
  for (const l of backend.logins) l.peer.destroy()
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp'), undefined, 'neither is handed out: the client logs in cold')
  await waitFor(async () => (await counter(metrics, 'portcullis_amqp_backend_pool_failed_total', { instance: 'amq-1', stage: 'parked' })) === 2, 1000, 'both counted as failed while parked')
  t.equal(p.parkedCount(), 0)

  const bytes = fakeBackend()
  const p2 = pool({ login: bytes.login })
  t.teardown(() => p2.close())
  p2.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await waitFor(() => p2.parkedCount() === 2, 1000, 'two parked')
  bytes.logins[0]?.peer.write(encodeMethodFrame({ name: 'connection.close', replyCode: 320, replyText: 'CONNECTION_FORCED', classId: 0, methodId: 0 }))
  await waitFor(() => p2.parkedCount() === 1, 1000, 'one that heard a Close while parked is dropped')
})

t.test('parked connections expire after maxIdleMs and are replaced only if a client came since they were parked', async (t) => {
  const backend = fakeBackend()
  const metrics = new Metrics()
  const p = pool({ login: backend.login, metrics, settings: () => settings({ maxIdleMs: 150 }) })
  t.teardown(() => p.close())
  p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await waitFor(() => p.parkedCount() === 2, 1000, 'two parked')
  await waitFor(() => p.parkedCount() === 0, 1000, 'both expired')
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(backend.logins.length, 2, 'not replaced: no client came since')
  t.equal(await counter(metrics, 'portcullis_amqp_backend_pool_expired_total', { instance: 'amq-1' }), 2)
  await waitFor(() => backend.logins.every((l) => l.heard.some((m) => m.name === 'connection.close')), 1000, 'retired with Open then Close')
  const heard = backend.logins[0]?.heard.map((m) => m.name)
  t.same(heard, ['connection.tune-ok', 'connection.open', 'connection.close'], 'an expired connection finishes the handshake and closes, which RabbitMQ logs without a warning')
  t.match(backend.logins[0]?.heard[0], { channelMax: TUNE.channelMax, frameMax: TUNE.frameMax, heartbeat: 0 })

  // With a client between the parking and the expiry, the expired ones are replaced.
  p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await waitFor(() => p.parkedCount() === 2, 1000, 'two parked again')
  const taken = p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  t.ok(taken)
  await waitFor(() => backend.logins.length === 5, 1000, 'the take topped up')
  await waitFor(() => backend.logins.length >= 6, 1000, 'the one parked before the take expired and was replaced')
})

t.test('an instance change drops its connections, and a client holding the old record gets none', async (t) => {
  const backend = fakeBackend()
  const metrics = new Metrics()
  let current = AMQP_INSTANCE
  const p = pool({ login: backend.login, metrics, current: () => current })
  t.teardown(() => p.close())
  p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await waitFor(() => p.parkedCount() === 2, 1000, 'two parked')
  const rotated = { ...AMQP_INSTANCE, backend: { ...AMQP_INSTANCE.backend, password: 'rotated' } }
  current = rotated
  p.dropInstance(AMQP_INSTANCE.id)
  t.equal(p.parkedCount(), 0, 'dropped at once')
  t.equal(await counter(metrics, 'portcullis_amqp_backend_pool_discarded_total', { instance: 'amq-1', cause: 'instance_changed' }), 2)
  t.equal(p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp'), undefined, 'a client authenticated against the old record gets none')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(backend.logins.length, 2, 'and starts no login with the old password')
  t.equal(p.take(admitted(rotated, FULL_CAPS), 'amqp'), undefined)
  await waitFor(() => p.parkedCount() === 2, 1000, 'refilled from the new record')
  t.equal(backend.logins[2]?.instance.backend.password, 'rotated')
})

t.test('a failed login pauses refills; close() aborts logins in flight and closes every parked connection', async (t) => {
  const backend = fakeBackend()
  const metrics = new Metrics()
  const p = pool({ login: backend.login, metrics })
  backend.failing.on = true
  p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await waitFor(async () => (await counter(metrics, 'portcullis_amqp_backend_pool_failed_total', { instance: 'amq-1', stage: 'login' })) === 2, 1000, 'both logins failed')
  backend.failing.on = false
  p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(backend.logins.length, 0, 'no login within a second of a failure')

  const other = instance({ id: 'amq-2', protocol: 'amqp', backend: { kind: 'tcp', host: '127.0.0.1', port: 5672 } })
  p.take(admitted(other, FULL_CAPS), 'amqp')
  await waitFor(() => p.parkedCount('amq-2') === 2, 1000, 'another instance is not paused')
  backend.hold.on = true
  const extra = instance({ id: 'amq-3', protocol: 'amqp', backend: { kind: 'tcp', host: '127.0.0.1', port: 5672 } })
  p.take(admitted(extra, FULL_CAPS), 'amqp')
  await p.close()
  t.equal(p.parkedCount(), 0, 'nothing parked after close')
  t.ok(backend.logins.every((l) => l.heard.some((m) => m.name === 'connection.close')), 'every parked connection was retired')
  await waitFor(() => backend.logins.every((l) => l.peer.readableEnded), 1000, 'every pooled socket closed')
  t.equal(p.take(admitted(other, FULL_CAPS), 'amqp'), undefined, 'a closed pool serves nobody')
})

t.test('the backend stage relays a pooled connection\'s Tune and names it in the audit actor', async (t) => {
  const client = socketPair()
  const backend = fakeBackend()
  const p = pool({ login: backend.login, settings: () => settings({ size: 1 }) })
  t.teardown(() => p.close())
  p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  await waitFor(() => p.parkedCount() === 1, 1000, 'one parked')
  const upstream = p.take(admitted(AMQP_INSTANCE, FULL_CAPS), 'amqp')
  t.ok(upstream)
  const d = deadline(1000)
  t.teardown(d.clear)
  const frames = new HandshakeFrames(client.gateway, d.signal, 'client', 4096)
  const hello: AmqpHello = { frames, clientProperties: FULL_CAPS, subject: { kind: 'dynamic', accessKeyId: 'AK', username: 'u', instanceId: 'amq-1' } }
  const ctx: Connected<AmqpHello> = { ...identified(client.gateway, hello, { instance: AMQP_INSTANCE }), signal: d.signal, phase: 'connected', client: client.gateway, upstream: upstream! }
  client.peer.write(Buffer.concat([
    encodeMethodFrame({ name: 'connection.tune-ok', channelMax: 0, frameMax: 8192, heartbeat: 0 }),
    encodeMethodFrame({ name: 'connection.open', virtualHost: '/', capabilities: '', insist: false }),
  ]))
  const config = configSchema.parse({})
  const step = await amqpBackend(ctx, { config, authorization: authorizationWithoutPolicies() })
  t.equal(step.kind, 'next')
  if (step.kind !== 'next') return
  t.match(methodsIn(new FrameReader(1 << 20), client.written()), [{ name: 'connection.tune', ...TUNE }], 'the client hears the parked connection\'s Tune')
  const portcullis = (backend.logins[0]?.properties.get('portcullis') as { value: FieldTable }).value
  t.equal(step.ctx.actor.backendConnection, (portcullis.get('pool_connection_id') as { value: Buffer }).value.toString(), 'the actor names the pooled connection it got')
  const preamble = methodsIn(new FrameReader(1 << 20), Buffer.concat([...step.ctx.upstreamPreamble]))
  t.match(preamble, [{ name: 'connection.tune-ok', frameMax: 8192, heartbeat: 0 }, { name: 'connection.open', virtualHost: '/' }], 'the client\'s own Tune-Ok and Open go to the broker')
  t.same(backend.logins[0]?.heard, [], 'nothing else was written to the pooled connection by the stage')
})
