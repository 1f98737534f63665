/**
 * The Redis store on a Cluster with a replica per master (three masters, three replicas): writes
 * wait for the replica of the master that serves the store's slot (WAIT sent in the write's own
 * pipeline, so to that master and no other), and the store rides out the failover of that master
 * with every acknowledged write kept.
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { RedisStore } from '../../src/store/redis'
import { instance } from '../helpers/store-contract'
import { infoField, redisServerAvailable, startCluster } from '../helpers/redis-topology'
import { until } from '../helpers/wait'

const RUN_PREFIX = `portcullis-test:${randomUUID()}:`

t.test('redis store on a Cluster with replicas', async (t) => {
  if (!redisServerAvailable(t)) return
  const cluster = await startCluster({ masters: 3, replicasPerMaster: 1 })
  t.teardown(() => cluster.stop())
  const keyPrefix = `${RUN_PREFIX}replicated:`
  const recordsKey = `{${keyPrefix}}rec:instances:${GLOBAL_SCOPE}`
  const open = (replicaWaitMs?: number): Promise<RedisStore> =>
    RedisStore.open({ cluster: { nodes: cluster.seedNodes }, keyPrefix, ...(replicaWaitMs === undefined ? {} : { replicaWaitMs }) })

  t.test('cluster store: an acknowledged write is already on the replica of its slot\'s master', async (t) => {
    const store = await open()
    t.teardown(() => store.close())
    const master = await cluster.nodeFor(recordsKey)
    const [replica] = await cluster.replicasOf(master)
    if (replica === undefined) throw new Error(`master ${master.port} has no replica`)
    for (let i = 0; i < 20; i++) {
      await store.put('instances', GLOBAL_SCOPE, `x${i}`, instance(`x${i}`))
      const json = await replica.replicaRead('HGET', recordsKey, `x${i}`)
      t.equal(typeof json === 'string' && JSON.parse(json).id, `x${i}`, `write ${i} is on replica ${replica.port} when put() resolves`)
    }
  })

  t.test('cluster store: a write fails STORE_UNAVAILABLE while the replica of its slot\'s master is frozen, not the others\'', async (t) => {
    const store = await open(300)
    t.teardown(() => store.close())
    const master = await cluster.nodeFor(recordsKey)
    const [replica] = await cluster.replicasOf(master)
    if (replica === undefined) throw new Error(`master ${master.port} has no replica`)
    const others = cluster.nodes.filter((n) => n !== master && n !== replica)
    // Freezing every OTHER replica changes nothing: the WAIT goes to this slot's master only.
    const otherPids = await Promise.all(others.map(async (n) => (infoField(await n.command('INFO', 'replication'), 'role') === 'slave' ? n.pid() : undefined)))
    for (const pid of otherPids) if (pid !== undefined) process.kill(pid, 'SIGSTOP')
    try {
      await store.put('instances', GLOBAL_SCOPE, 'others-frozen', instance('others-frozen'))
      t.pass('a write is acknowledged while the replicas of other slots are frozen')
    } finally {
      for (const pid of otherPids) if (pid !== undefined) process.kill(pid, 'SIGCONT')
    }
    const pid = await replica.pid()
    process.kill(pid, 'SIGSTOP')
    try {
      await t.rejects(store.put('instances', GLOBAL_SCOPE, 'unconfirmed', instance('unconfirmed')), { code: 'STORE_UNAVAILABLE', message: /0 of the 1 Redis replicas/ })
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    await store.put('instances', GLOBAL_SCOPE, 'confirmed', instance('confirmed'))
    t.pass('acknowledged again once the replica answers')
  })

  // Last: it fails over the store's master.
  t.test('cluster store: the failover of its slot\'s master loses no acknowledged write', async (t) => {
    const store = await open()
    const reader = await open()
    t.teardown(async () => { await store.close(); await reader.close() })
    const events: boolean[] = []
    store.onConnectivity((up) => events.push(up))
    const acknowledged: string[] = []
    let writing = true
    const writer = (async () => {
      for (let i = 0; writing; i++) {
        const id = `w${i}`
        try {
          await store.put('devices', 'i1', id, { ...instance(id), id } as never)
          acknowledged.push(id)
        } catch (err) {
          if ((err as { code?: string }).code !== 'STORE_UNAVAILABLE') throw err
          await sleep(50)
        }
      }
    })()
    await until(() => acknowledged.length >= 20, 5_000)
    const master = await cluster.nodeFor(recordsKey)
    const [replica] = await cluster.replicasOf(master)
    const killedAt = Date.now()
    await master.kill()
    const ackedAtKill = acknowledged.length
    t.ok(await until(async () => infoField(await replica?.command('INFO', 'replication'), 'role') === 'master', 15_000),
      `the replica was promoted (${Date.now() - killedAt} ms after the kill)`)
    t.ok(await until(() => acknowledged.length > ackedAtKill + 10, 15_000), `writes acknowledged again ${Date.now() - killedAt} ms after the kill`)
    writing = false
    await writer
    t.equal(events[0], false, 'connectivity went down')
    t.ok(await until(() => events.at(-1) === true, 5_000), 'and came back')
    t.same(events.slice(0, 2), [false, true])
    const stored = new Set((await reader.list('devices', 'i1')).map((r) => r.id))
    t.same(acknowledged.filter((id) => !stored.has(id)), [], `all ${acknowledged.length} acknowledged writes are on the promoted master`)
  })
})
