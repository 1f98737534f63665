import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import type { AuditEvent, AuditInput } from '../../src/audit/event'
import { createAuditQuery, followAudit, LocalAuditQuery } from '../../src/audit/query'
import { RedisAuditQuery } from '../../src/audit/redis-query'
import { isPortcullisError } from '../../src/errors'

const event = (type: AuditInput['type'], instanceId: string, n: number): AuditInput => ({
  type, instanceId, outcome: 'success', actor: { kind: 'system' }, details: { n },
})

function filled(): AuditLog {
  const log = new AuditLog({ sinks: [] })
  log.record(event('connection.accepted', 'a', 1))
  log.record(event('admin.ca.register', 'a', 2))
  log.record(event('connection.rejected', 'b', 3))
  log.record(event('admin.instance.create', 'b', 4))
  return log
}

t.test('queries the local ring by type prefix, instance and limit, oldest first', async (t) => {
  const q = new LocalAuditQuery(filled())
  t.same((await q.query({})).items.map((e) => e.details['n']), [1, 2, 3, 4])
  t.same((await q.query({ type: 'admin.*' })).items.map((e) => e.details['n']), [2, 4])
  t.same((await q.query({ type: 'connection.rejected' })).items.map((e) => e.details['n']), [3])
  t.same((await q.query({ instanceId: 'a', limit: 1 })).items.map((e) => e.details['n']), [2], 'the most recent match')
  t.same((await q.query({ since: new Date(Date.now() + 60_000).toISOString() })).items, [])
  t.same((await q.query({ until: new Date(Date.now() + 60_000).toISOString() })).items.length, 4)
})

t.test('refuses a bad time bound or a limit outside 1..1000', async (t) => {
  const q = new LocalAuditQuery(filled())
  for (const filter of [{ since: 'yesterday' }, { limit: 0 }, { limit: 1001 }, { limit: 2.5 }]) {
    const err: unknown = await q.query(filter).then(() => undefined, (e: unknown) => e)
    t.ok(isPortcullisError(err) && err.code === 'VALIDATION_FAILED', JSON.stringify(filter))
  }
})

t.test('live delivers matching events recorded after subscribing, until stopped', async (t) => {
  const log = filled()
  const q = new LocalAuditQuery(log)
  const seen: AuditEvent[] = []
  const stop = await q.live({ type: 'admin.*', instanceId: 'b' }, (e) => seen.push(e))
  log.record(event('admin.ca.delete', 'b', 5))
  log.record(event('admin.ca.delete', 'a', 6))
  log.record(event('connection.closed', 'b', 7))
  stop()
  log.record(event('admin.ca.delete', 'b', 8))
  t.same(seen.map((e) => e.details['n']), [5])
})

t.test('followAudit replays history from since, then live events, none twice', async (t) => {
  const log = filled()
  const q = new LocalAuditQuery(log)
  const seen: number[] = []
  // An event recorded while the history is read must be delivered once, after the history.
  const racing: LocalAuditQuery = Object.assign(Object.create(q) as LocalAuditQuery, {
    query: async (filter: Parameters<LocalAuditQuery['query']>[0]) => {
      const answer = await q.query(filter)
      log.record(event('connection.accepted', 'a', 5))
      return answer
    },
  })
  const stop = await followAudit(racing, { since: new Date(0).toISOString(), type: 'connection.*' }, (e) => seen.push(e.details['n'] as number))
  log.record(event('connection.accepted', 'a', 6))
  log.record(event('admin.ca.register', 'a', 7))
  stop()
  t.same(seen, [1, 3, 5, 6])
})

t.test('createAuditQuery reads the Redis stream only when a redis-stream sink is configured', async (t) => {
  const log = filled()
  t.type(createAuditQuery({ audit: log, sinks: [{ kind: 'stdout' }] }), LocalAuditQuery)
  t.type(createAuditQuery({ audit: log, sinks: [{ kind: 'redis-stream' }] }), LocalAuditQuery, 'no url and no redis store')
  const redis = createAuditQuery({ audit: log, sinks: [{ kind: 'redis-stream', key: 'k' }], redisUrl: 'redis://127.0.0.1:1' })
  t.type(redis, RedisAuditQuery)
  t.equal((redis as RedisAuditQuery).key, 'k')
  await redis.close()
})
