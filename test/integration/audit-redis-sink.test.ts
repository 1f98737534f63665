import { randomUUID } from 'node:crypto'
import Redis from 'ioredis'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import type { AuditEvent, AuditInput } from '../../src/audit/event'
import { RedisStreamSink } from '../../src/audit/sinks/redis-stream'
import { verifyChain } from '../../src/audit/verify'
import { Metrics } from '../../src/observability/metrics'
import { DEFAULT_PORTS, serviceAvailable, unusedPort } from '../helpers/services'

const REDIS_URL = `redis://127.0.0.1:${DEFAULT_PORTS.redis}`

const rejected = (i: number): AuditInput => ({
  type: 'connection.rejected',
  instanceId: 'inst-1',
  protocol: 'mqtt',
  outcome: 'failure',
  reason: 'CA_INACTIVE',
  actor: { kind: 'client', id: `dev-${i}` },
  source: { ip: '198.51.100.9', port: 1000 + i },
  details: { i },
})

async function counterValue(metrics: Metrics, sink: string): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('portcullis_audit_sink_errors_total')?.get()
  return metric?.values.find((v) => v.labels['sink'] === sink)?.value ?? 0
}

t.test('XADDs each event as field "event" to the stream, in chain order', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const key = `portcullis-test:audit:${randomUUID()}`
  const redis = new Redis(REDIS_URL)
  t.teardown(async () => {
    await redis.del(key)
    await redis.quit()
  })
  const log = new AuditLog({ sinks: [new RedisStreamSink({ url: REDIS_URL, key })] })
  const recorded = Array.from({ length: 25 }, (_, i) => log.record(rejected(i)))
  await log.close()

  t.equal(await redis.xlen(key), 25)
  const entries = await redis.xrange(key, '-', '+')
  const events = entries.map(([, fields]) => {
    t.equal(fields[0], 'event')
    return JSON.parse(fields[1] ?? '') as AuditEvent
  })
  t.same(events, recorded)
  t.same(await verifyChain(entries.map(([, fields]) => fields[1] ?? '')), { ok: true, count: 25 })
})

t.test('trims the stream to about maxLen with MAXLEN ~', async (t) => {
  if (!(await serviceAvailable(t, 'redis', DEFAULT_PORTS.redis))) return
  const key = `portcullis-test:audit:${randomUUID()}`
  const redis = new Redis(REDIS_URL)
  t.teardown(async () => {
    await redis.del(key)
    await redis.quit()
  })
  const log = new AuditLog({ sinks: [new RedisStreamSink({ url: REDIS_URL, key, maxLen: 10 })] })
  for (let i = 0; i < 1000; i++) log.record(rejected(i))
  await log.close()
  const length = await redis.xlen(key)
  t.ok(length >= 10, `keeps at least maxLen (${length})`)
  t.ok(length < 1000, `trims whole stream nodes (${length} of 1000 left)`)
  const entries = await redis.xrange(key, '-', '+')
  const lines = entries.map(([, fields]) => fields[1] ?? '')
  t.same(await verifyChain(lines, { firstPrev: 'any' }), { ok: true, count: length }, 'the kept tail is an intact chain')
})

t.test('a dead Redis counts errors without throwing or blocking', async (t) => {
  const metrics = new Metrics()
  const sink = new RedisStreamSink({ url: `redis://127.0.0.1:${await unusedPort()}`, readyTimeoutMs: 200 })
  const log = new AuditLog({ sinks: [sink], metrics, queueLimit: 20, closeTimeoutMs: 1000 })
  const started = Date.now()
  for (let i = 0; i < 50; i++) t.doesNotThrow(() => log.record(rejected(i)))
  t.ok(Date.now() - started < 100, 'record does not wait for Redis')
  await log.flush(3000)
  t.equal(await counterValue(metrics, 'redis-stream'), 50, 'every event is counted: 30 dropped, 20 failed')
  t.match(log.stats(), [{ sink: 'redis-stream', held: 0, dropped: 30, failed: 20, written: 0 }])
  const closing = Date.now()
  await log.close()
  t.ok(Date.now() - closing < 1500, 'close does not hang on a dead Redis')
})
