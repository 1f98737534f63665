import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import Redis from 'ioredis'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import type { AuditEvent, AuditInput } from '../../src/audit/event'
import { RedisAuditQuery } from '../../src/audit/redis-query'
import { RedisStreamSink } from '../../src/audit/sinks/redis-stream'
import { verifyChain } from '../../src/audit/verify'
import { isPortcullisError } from '../../src/errors'
import { adminHarness } from '../helpers/admin-harness'
import { DEFAULT_PORTS, serviceAvailable } from '../helpers/services'

const REDIS_URL = `redis://127.0.0.1:${DEFAULT_PORTS.redis}`

const input = (type: AuditInput['type'], instanceId: string, n: number): AuditInput => ({
  type, instanceId, outcome: 'success', actor: { kind: 'system' }, details: { n },
})

/** Two gateway "replicas" (two chains) writing one stream under a per-test key, removed after. */
async function replicas(t: tap.Test, opts: { scanCap?: number } = {}) {
  const key = `portcullis-test:audit-query:${randomUUID()}`
  const redis = new Redis(REDIS_URL)
  const a = new AuditLog({ sinks: [new RedisStreamSink({ url: REDIS_URL, key })], chainId: 'gw-a' })
  const b = new AuditLog({ sinks: [new RedisStreamSink({ url: REDIS_URL, key })], chainId: 'gw-b' })
  const query = new RedisAuditQuery({ url: REDIS_URL, key, blockMs: 200, ...opts })
  t.teardown(async () => {
    await Promise.all([a.close(), b.close(), query.close()])
    await redis.del(key)
    await redis.quit()
  })
  return { key, redis, a, b, query }
}

t.test('queries one stream written by several replicas, by type, instance, time and limit', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const { a, b, query } = await replicas(t)
  const recorded: AuditEvent[] = []
  for (let n = 0; n < 10; n++) {
    recorded.push((n % 2 === 0 ? a : b).record(input(n % 3 === 0 ? 'admin.ca.register' : 'connection.accepted', `inst-${n % 2}`, n)))
    // Separate flushes keep the stream order equal to the record order across the two logs.
    await (n % 2 === 0 ? a : b).flush()
  }
  const n = (items: AuditEvent[]): unknown[] => items.map((e) => e.details['n'])
  t.same((await query.query({})).items, recorded, 'every replica, oldest first, as written')
  t.same(n((await query.query({ type: 'admin.*' })).items), [0, 3, 6, 9])
  t.same(n((await query.query({ instanceId: 'inst-1', type: 'connection.accepted' })).items), [1, 5, 7])
  t.same(n((await query.query({ limit: 3 })).items), [7, 8, 9], 'the most recent `limit`')
  const middle = recorded[5]?.time ?? ''
  t.ok((await query.query({ since: middle })).items.every((e) => e.time >= middle), 'since is inclusive on event time')
  t.ok((await query.query({ until: middle })).items.every((e) => e.time < middle), 'until is exclusive')
  t.same((await query.query({ until: '2000-01-01T00:00:00Z' })).items, [])
  t.same((await query.query({ since: new Date(Date.now() + 3_600_000).toISOString() })).items, [])
})

t.test('a query stops at the scan cap and says so', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const { a, query } = await replicas(t, { scanCap: 5 })
  a.record(input('admin.ca.register', 'old', 0))
  for (let n = 1; n <= 20; n++) a.record(input('connection.accepted', 'busy', n))
  await a.flush()
  t.same(await query.query({ instanceId: 'old' }), { items: [], scanLimitReached: true })
  t.same((await query.query({ instanceId: 'busy', limit: 2 })).items.map((e) => e.details['n']), [19, 20], 'found within the cap')
})

t.test('the stream holds interleaved chains that verify each on its own', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const { key, redis, a, b } = await replicas(t)
  for (let n = 0; n < 30; n++) (n % 3 === 0 ? a : b).record(input('connection.closed', 'i', n))
  await Promise.all([a.flush(), b.flush()])
  const lines = (await redis.xrange(key, '-', '+')).map(([, fields]) => fields[1] ?? '')
  t.same(await verifyChain(lines), { ok: true, count: 30, chains: 2 })
})

t.test('live tails the events of every replica through one XREAD BLOCK loop', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const { a, b, query } = await replicas(t)
  a.record(input('admin.ca.register', 'i', -1))
  await a.flush()
  const seen: AuditEvent[] = []
  const other: AuditEvent[] = []
  const stop = await query.live({ type: 'admin.*' }, (e) => seen.push(e))
  const stopOther = await query.live({ instanceId: 'j' }, (e) => other.push(e))
  const fromA = a.record(input('admin.ca.delete', 'i', 1))
  b.record(input('connection.accepted', 'j', 2))
  const fromB = b.record(input('admin.blacklist.add', 'j', 3))
  const deadline = Date.now() + 5000
  while ((seen.length < 2 || other.length < 2) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  t.same(seen.map((e) => e.id).sort(), [fromA.id, fromB.id].sort(), 'both replicas, only new events, filtered')
  t.same(other.map((e) => e.details['n']).sort(), [2, 3])
  stop()
  stopOther()
})

t.test('GET /v1/audit answers from the stream when the gateway has a redis-stream sink', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const { b, query } = await replicas(t)
  const h = await adminHarness(t)
  h.ctx.auditQuery = query
  const elsewhere = b.record(input('admin.instance.create', 'on-replica-b', 1))
  await b.flush()
  const res = await h.call('GET', '/v1/audit?instanceId=on-replica-b')
  t.equal(res.statusCode, 200)
  t.same(res.json().items, [elsewhere])
})

t.test('an unreachable Redis answers STORE_UNAVAILABLE (503), and nothing hangs', async (t) => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  const query = new RedisAuditQuery({ url: `redis://127.0.0.1:${port}`, key: 'nowhere' })
  t.teardown(() => query.close())
  const err: unknown = await query.query({}).then(() => undefined, (e: unknown) => e)
  t.ok(isPortcullisError(err) && err.code === 'STORE_UNAVAILABLE', String(err))
  const liveErr: unknown = await query.live({}, () => undefined).then(() => undefined, (e: unknown) => e)
  t.ok(isPortcullisError(liveErr) && liveErr.code === 'STORE_UNAVAILABLE', String(liveErr))
  const h = await adminHarness(t)
  h.ctx.auditQuery = query
  t.equal((await h.call('GET', '/v1/audit')).statusCode, 503)
  t.equal((await h.call('GET', '/v1/audit/stream')).statusCode, 503)
})
