/**
 * The redis-stream audit sink, `GET /v1/audit` and its live tail on every store topology (issue 12,
 * DESIGN §4 "Production"): on a Sentinel set and on a Cluster started here from Debian's
 * redis-server, a sink without its own `url` writes to the store's Redis under a key that follows
 * keyPrefix, the query and the tail read it there, and all three come back after the master (the
 * sentinels' master, or the master of the stream's slot) is SIGKILLed and a replica promoted: the
 * chain on the new master verifies, every event lost meanwhile is counted and marked by an
 * `audit.gap`, and the tail neither misses nor repeats an entry the new master holds.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { AuditLog } from '../../src/audit/audit-log'
import type { AuditEvent, AuditInput } from '../../src/audit/event'
import { createAuditQuery, type AuditQuery } from '../../src/audit/query'
import { RedisAuditQuery } from '../../src/audit/redis-query'
import { streamPlace, type AuditStoreConfig } from '../../src/audit/redis-stream-place'
import { createAuditSinks, type AuditSinkSpec } from '../../src/audit/sinks'
import type { StreamEntry } from '../../src/audit/stream-entry'
import { verifyChain } from '../../src/audit/verify'
import { isPortcullisError } from '../../src/errors'
import { Metrics } from '../../src/observability/metrics'
import { startTestGateway } from '../helpers/gateway'
import type { Test } from '../helpers/services'
import { infoField, redisServerAvailable, startCluster, startSentinelSet, type RedisProcess } from '../helpers/redis-topology'
import { until } from '../helpers/wait'

const SPECS: AuditSinkSpec[] = [{ kind: 'redis-stream' }]

const rejected = (i: number): AuditInput => ({
  type: 'connection.rejected',
  instanceId: 'inst-topology',
  protocol: 'mqtt',
  outcome: 'failure',
  reason: 'CA_INACTIVE',
  actor: { kind: 'client', id: `dev-${i}` },
  source: { ip: '198.51.100.9', port: 1000 + (i % 60_000) },
  details: { i },
})

async function sinkErrors(metrics: Metrics): Promise<number> {
  const metric = await metrics.registry.getSingleMetric('portcullis_audit_sink_errors_total')?.get()
  return metric?.values.find((v) => v.labels['sink'] === 'redis-stream')?.value ?? 0
}

/** The sink and the query exactly as the gateway wires them from config `audit.sinks` and `store`. */
async function wire(t: Test, store: AuditStoreConfig) {
  const metrics = new Metrics()
  const sinks = await createAuditSinks(SPECS, { store })
  const log = new AuditLog({ sinks, metrics, chainId: `gw-${randomUUID().slice(0, 8)}`, closeTimeoutMs: 2_000 })
  const query = createAuditQuery({ audit: log, sinks: SPECS, store })
  const seen: AuditEvent[] = []
  const stopTail = await query.live({}, (event) => seen.push(event))
  t.teardown(async () => {
    stopTail()
    await query.close()
    await log.close()
  })
  return { metrics, log, query, seen }
}

async function streamOn(node: RedisProcess, key: string): Promise<StreamEntry[]> {
  return (await node.command('XRANGE', key, '-', '+')) as StreamEntry[]
}

function eventsOf(entries: StreamEntry[]): AuditEvent[] {
  return entries.map(([, fields]) => JSON.parse(fields[1] ?? '') as AuditEvent)
}

/** Queries until Redis answers (a query during a failover is a 503, which says: retry). */
async function queryWhenBack(query: AuditQuery, limit: number): Promise<AuditEvent[]> {
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      return (await query.query({ limit })).items
    } catch (err) {
      if (!isPortcullisError(err) || err.code !== 'STORE_UNAVAILABLE' || Date.now() > deadline) throw err
      await sleep(200)
    }
  }
}

interface Wired {
  metrics: Metrics
  log: AuditLog
  query: AuditQuery
  seen: AuditEvent[]
}

/** Writes, reads and tails 20 events on `master`; the stream is on it under `key`. */
async function writesReadsAndTails(t: Test, w: Wired, master: RedisProcess, key: string): Promise<AuditEvent[]> {
  const written = Array.from({ length: 20 }, (_, i) => w.log.record(rejected(i)))
  await w.log.flush(5_000)
  t.same(eventsOf(await streamOn(master, key)), written, 'XADDed in chain order to the key on the master that serves it')
  t.same((await w.query.query({ limit: 1000 })).items, written, 'GET /v1/audit reads them from the stream')
  t.same((await w.query.query({ type: 'connection.*', limit: 5 })).items, written.slice(-5), 'filtered and limited like on one server')
  t.ok(await until(() => w.seen.length >= 20, 5_000), 'the live tail received them')
  t.same(w.seen, written, 'in order, once each')
  return written
}

/**
 * Kills `master` once what it holds is on a replica, records events while no master answers, and
 * checks that the sink, the query and the tail are back on the master `promoted()` names.
 */
async function survivesFailover(
  t: Test, w: Wired, master: RedisProcess, key: string, before: AuditEvent[], promoted: () => Promise<RedisProcess>,
): Promise<void> {
  // What the old master acknowledged is on its replica first: Redis replication is asynchronous,
  // and an entry lost with the master would break the chain without a gap (docs/audit.md).
  t.equal(await master.command('WAIT', 1, 2_000), 1, 'the replica holds the stream')
  await master.kill()
  const recording = Date.now()
  const during = Array.from({ length: 10 }, (_, i) => w.log.record(rejected(100 + i)))
  t.ok(Date.now() - recording < 100, 'recording does not wait for the dead master')
  const next = await promoted()
  t.not(next.port, master.port, `a replica was promoted (${next.port})`)

  // The sink reconnects to the new master by itself; record until one event of ours arrives there.
  const after: AuditEvent[] = []
  const arrived = await until(async () => {
    after.push(w.log.record(rejected(200 + after.length)))
    await w.log.flush(3_000).catch(() => undefined)
    const last = after[after.length - 1] as AuditEvent
    return eventsOf(await streamOn(next, key)).some((event) => event.id === last.id)
  }, 20_000)
  t.ok(arrived, 'the sink writes to the promoted master')
  const tailEnd = Array.from({ length: 10 }, (_, i) => w.log.record(rejected(300 + i)))
  await w.log.flush(5_000)

  const entries = await streamOn(next, key)
  const stream = eventsOf(entries)
  t.same(stream.slice(0, before.length), before, 'what the old master held survived on the new one')
  t.same(stream.slice(-tailEnd.length), tailEnd, 'events recorded after the failover are all there, in order')
  const lostCounted = await sinkErrors(w.metrics)
  const [stats] = w.log.stats()
  t.ok(lostCounted >= during.length, `every event recorded while no master answered was counted lost (${lostCounted})`)
  t.equal(lostCounted, (stats?.failed ?? 0) + (stats?.dropped ?? 0), 'the counter and the queue agree')
  const verified = await verifyChain(entries.map(([, fields]) => fields[1] ?? ''), { firstPrev: 'any' })
  t.match(verified, { ok: true, lost: lostCounted }, 'the chain on the new master verifies; audit.gap events account for every lost event')
  const ids = new Set(stream.map((event) => event.id))
  t.notOk(during.some((event) => ids.has(event.id)), 'no event is written twice or out of place: the lost ones are absent')

  const items = await queryWhenBack(w.query, 1000)
  t.same(items.map((event) => event.id), stream.map((event) => event.id), 'the query reads the promoted master')
  t.ok(await until(() => w.seen.some((event) => event.id === tailEnd[tailEnd.length - 1]?.id), 10_000), 'the live tail resumed')
  t.same(w.seen.map((event) => event.id), stream.map((event) => event.id), 'the tail missed and repeated nothing the new master holds')
}

/** A gateway on `store` with a redis-stream sink without `url` starts (it was CONFIG_INVALID) and answers from the stream. */
async function gatewayAnswersFromTheStream(t: Test, store: AuditStoreConfig, key: string, master: () => Promise<RedisProcess>): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'portcullis-audit-topology-'))
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))
  const gw = await startTestGateway(t, { dataDir, config: { store: { ...store, dataDir }, audit: { sinks: SPECS } } })
  const accountId = `topology-${randomUUID().slice(0, 8)}`
  t.equal((await gw.admin('POST', '/v1/accounts', { id: accountId })).status, 201, 'an admin write')
  // Another replica's event, written straight to the stream: only a stream-backed query sees it.
  const sinks = await createAuditSinks(SPECS, { store })
  const elsewhere = new AuditLog({ sinks, chainId: 'gw-elsewhere' })
  const foreign = elsewhere.record(rejected(7))
  await elsewhere.close()
  let items: AuditEvent[] = []
  const found = await until(async () => {
    const res = await gw.admin('GET', '/v1/audit?limit=1000')
    items = res.status === 200 ? (res.body.items as AuditEvent[]) : []
    return items.some((e) => e.type.startsWith('admin.account') && e.outcome === 'success') && items.some((e) => e.id === foreign.id)
  }, 10_000)
  t.ok(found, `GET /v1/audit lists this gateway's admin write and another replica's event (${items.map((e) => e.type).join(', ')})`)
  const onMaster = eventsOf(await streamOn(await master(), key))
  t.ok(onMaster.some((e) => e.id === foreign.id) && onMaster.some((e) => e.chain === gw.gateway.processId), `both are in ${key} on the master`)
  await gw.stop()
}

t.test('where a redis-stream sink writes: its url, else the store on every topology, under keyPrefix off the url form', async (t) => {
  const sentinel = { masterName: 'm', nodes: ['127.0.0.1:26379'] }
  const cluster = { nodes: ['127.0.0.1:7000'] }
  t.same(streamPlace({ url: 'redis://a:1' }, { kind: 'redis', cluster, keyPrefix: 'p:' }), { target: { url: 'redis://a:1' }, key: 'portcullis:audit' },
    "the sink's own url keeps its default key")
  t.same(streamPlace({}, { kind: 'redis', url: 'redis://s:1', keyPrefix: 'p:' }), { target: { url: 'redis://s:1' }, key: 'portcullis:audit' },
    'a url store keeps portcullis:audit, which readers of the stream already use')
  t.same(streamPlace({}, { kind: 'redis', sentinel, keyPrefix: 'p:' }), { target: { sentinel }, key: 'p:audit' })
  t.same(streamPlace({}, { kind: 'redis', cluster, keyPrefix: 'p:' }), { target: { cluster }, key: '{p:}audit' }, "under the store's hash tag")
  t.same(streamPlace({ key: 'mine' }, { kind: 'redis', cluster, keyPrefix: 'p:' }), { target: { cluster }, key: 'mine' }, 'an explicit key is kept')
  t.same(streamPlace({}, { kind: 'redis', sentinel }), { target: { sentinel }, key: 'portcullis:audit' }, 'the default prefix gives the old key on Sentinel')
  t.equal(streamPlace({}, { kind: 'embedded' }), undefined, 'no place without a url or a Redis store')
  t.throws(() => streamPlace({}, { kind: 'redis', cluster, keyPrefix: '' }), { code: 'CONFIG_INVALID' }, 'no hash tag, no cluster stream')
  const sinks = await createAuditSinks(SPECS, { store: { kind: 'redis', sentinel, keyPrefix: 'p:' } })
  t.equal(sinks.length, 1, 'a Sentinel store no longer refuses the sink at start (it connects in the background)')
  await Promise.all(sinks.map((sink) => sink.close()))
})

t.test('on a Sentinel store: the sink, the query and the tail use the master and follow it through a failover', async (t) => {
  if (!redisServerAvailable(t)) return
  const set = await startSentinelSet({ replicas: 1 })
  t.teardown(() => set.stop())
  const keyPrefix = `portcullis-test:${randomUUID().slice(0, 8)}:`
  const store: AuditStoreConfig = { kind: 'redis', sentinel: { masterName: set.masterName, nodes: set.sentinelNodes }, keyPrefix }
  const key = `${keyPrefix}audit`

  await t.test('a gateway starts with the sink and answers GET /v1/audit from the stream', (t) => gatewayAnswersFromTheStream(t, store, key, () => set.master()))

  await t.test('failover', async (t) => {
    const master = await set.master()
    await master.command('DEL', key)
    const w = await wire(t, store)
    t.equal((w.query as RedisAuditQuery).key, key, 'the query reads the key the sink writes')
    const before = await writesReadsAndTails(t, w, master, key)
    await survivesFailover(t, w, master, key, before, () => set.failedOver(master))
  })
})

t.test("on a Cluster store: the stream is one key in the store's slot, and it survives its master's failover", async (t) => {
  if (!redisServerAvailable(t)) return
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 })
  t.teardown(() => cluster.stop())
  const keyPrefix = `portcullis-test:${randomUUID().slice(0, 8)}:`
  const store: AuditStoreConfig = { kind: 'redis', cluster: { nodes: cluster.seedNodes }, keyPrefix }
  const key = `{${keyPrefix}}audit`
  const anyNode = cluster.nodes[0] as RedisProcess
  t.equal(await anyNode.command('CLUSTER', 'KEYSLOT', key), await anyNode.command('CLUSTER', 'KEYSLOT', `{${keyPrefix}}probe`),
    "the stream hashes to the store's slot")

  await t.test('a gateway starts with the sink and answers GET /v1/audit from the stream', (t) => gatewayAnswersFromTheStream(t, store, key, () => cluster.nodeFor(key)))

  await t.test('failover of the slot', async (t) => {
    const master = await cluster.nodeFor(key)
    await master.command('DEL', key)
    const w = await wire(t, store)
    t.equal((w.query as RedisAuditQuery).key, key, 'the query reads the key the sink writes')
    const before = await writesReadsAndTails(t, w, master, key)
    const [replica] = await cluster.replicasOf(master)
    t.ok(replica !== undefined, 'the slot has a replica to promote')
    await survivesFailover(t, w, master, key, before, async () => {
      t.ok(await until(async () => infoField(await replica?.command('INFO', 'replication'), 'role') === 'master', 20_000), 'the replica took over the slot')
      await cluster.healthy(20_000)
      // The other nodes learn the new owner over the cluster bus, a moment later.
      t.ok(await until(async () => (await cluster.nodeFor(key)).port === replica?.port, 20_000), 'the cluster names it the owner')
      return replica as RedisProcess
    })
  })
})
