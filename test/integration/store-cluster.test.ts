/**
 * The Redis store on a three-master Redis Cluster the test starts (Debian's redis-server,
 * `redis-cli --cluster create`): the store contract, one hash slot per store, change notifications
 * heard whichever node the subscriber sits on, and connectivity that tells the truth when a node
 * goes: the subscriber's (it moves to another node) or the store's own slot (calls fail closed).
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { loadConfig } from '../../src/config/load'
import { openStore } from '../../src/store/open'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { RedisStore } from '../../src/store/redis'
import type { ChangeEvent, Store } from '../../src/store/store'
import { unusedPort } from '../helpers/services'
import { instance, recorder, reopenableFixture, storeContract } from '../helpers/store-contract'
import type { StoreFixture } from '../helpers/store-contract'
import { redisServerAvailable, startCluster, type ClusterSet, type RedisProcess } from '../helpers/redis-topology'
import { until } from '../helpers/wait'

const RUN_PREFIX = `portcullis-test:${randomUUID()}:`
let fixtures = 0

/** A cluster store's keys all start with `{prefix}` (the hash tag). */
const pattern = (keyPrefix: string): string => `{${keyPrefix}}*`

function clusterStore(cluster: ClusterSet, keyPrefix: string): Promise<RedisStore> {
  return RedisStore.open({ cluster: { nodes: cluster.seedNodes }, keyPrefix })
}

function makeFixture(cluster: ClusterSet, keyPrefix = `${RUN_PREFIX}${++fixtures}:`): Promise<StoreFixture> {
  return reopenableFixture(() => clusterStore(cluster, keyPrefix), () => cluster.deleteKeys(pattern(keyPrefix)))
}

/** The node a store's subscriber is connected to: the one listing a pub/sub client on its channels. */
async function subscriberNode(cluster: ClusterSet, keyPrefix: string): Promise<RedisProcess[]> {
  const found: RedisProcess[] = []
  for (const node of cluster.nodes.filter((n) => n.running)) {
    const subscribers = (await node.command('PUBSUB', 'NUMSUB', `{${keyPrefix}}changes`)) as [string, number]
    if (Number(subscribers[1]) > 0) found.push(node)
  }
  return found
}

t.test('config store: the cluster form is strict, and its keyPrefix may not be empty', async (t) => {
  t.same(loadConfig({ env: { PORTCULLIS_STORE__KIND: 'redis', PORTCULLIS_STORE__CLUSTER__NODES: '["c1:6379","c2:6379"]' } }).store,
    { kind: 'redis', keyPrefix: 'portcullis:', dataDir: './data', cluster: { nodes: ['c1:6379', 'c2:6379'] } }, 'from environment overrides')
  t.throws(() => loadConfig({ env: { PORTCULLIS_STORE__KIND: 'redis', PORTCULLIS_STORE__CLUSTER__NODES: '["c1:6379"]', PORTCULLIS_STORE__KEY_PREFIX: '' } }),
    { code: 'CONFIG_INVALID', message: /store\.keyPrefix: a cluster store needs a non-empty keyPrefix/ })
  t.throws(() => loadConfig({ env: { PORTCULLIS_STORE__KIND: 'redis', PORTCULLIS_STORE__CLUSTER__NODES: '["c1:6379"]', PORTCULLIS_STORE__KEY_PREFIX: '}x:' } }),
    { code: 'CONFIG_INVALID', message: /store\.keyPrefix: .*does not start with "}"/ }, 'a prefix starting with } would make {} an empty tag')
  t.throws(() => loadConfig({ env: { PORTCULLIS_STORE__KIND: 'redis', PORTCULLIS_STORE__CLUSTER__SEEDS: '["c1:6379"]' } }),
    { code: 'CONFIG_INVALID', message: /store\.cluster\.seeds: Unrecognized key/ })
  t.throws(() => loadConfig({ env: { PORTCULLIS_STORE__KIND: 'redis', PORTCULLIS_STORE__CLUSTER__NODES: '["c1"]' } }),
    { message: /store\.cluster\.nodes\.0: expected host:port/ })
  t.throws(() => loadConfig({ env: { PORTCULLIS_STORE__KIND: 'redis', PORTCULLIS_STORE__URL: 'redis://r', PORTCULLIS_STORE__CLUSTER__NODES: '["c:1"]' } }),
    { message: /store\.cluster: give one of url, sentinel or cluster, not url and cluster/ })
})

t.test('redis store on Cluster', async (t) => {
  if (!redisServerAvailable(t)) return
  const cluster = await startCluster({ masters: 3 })
  t.teardown(() => cluster.stop())

  storeContract(t, 'cluster store', () => makeFixture(cluster))

  t.test('cluster store: every key of one store is in one slot, so its scripts run on a cluster', async (t) => {
    const keyPrefix = `${RUN_PREFIX}slot:`
    const fixture = await makeFixture(cluster, keyPrefix)
    t.teardown(fixture.cleanup)
    for (let i = 0; i < 10; i++) await fixture.store.put('devices', `i${i}`, `d${i}`, { ...instance(`d${i}`), id: `d${i}` } as never)
    await fixture.store.claimNonce('n1', 60_000)
    await fixture.store.withLock('held', async () => {
      const keys = await cluster.keys(pattern(keyPrefix))
      t.equal(keys.length, 10 + 1 + 1 + 1, 'ten record hashes, the scope set, a nonce and the lock')
      const slots = new Set(await Promise.all(keys.map(async (key) => Number(await cluster.nodes[0]?.command('CLUSTER', 'KEYSLOT', key)))))
      t.equal(slots.size, 1, 'records, scope sets, nonces and locks share a slot')
    })
    const other = `${RUN_PREFIX}slot-other:`
    const b = await makeFixture(cluster, other)
    t.teardown(b.cleanup)
    t.equal(await b.store.get('devices', 'i1', 'd1'), undefined, 'another prefix is another store')
  })

  t.test('cluster store: a store whose subscriber sits on another node than its data hears every change', async (t) => {
    // Each store picks its subscriber node at random; open a few so that both cases occur.
    const keyPrefix = `${RUN_PREFIX}spread:`
    const stores = await Promise.all(Array.from({ length: 6 }, () => clusterStore(cluster, keyPrefix)))
    t.teardown(async () => { await Promise.all(stores.map((s) => s.close())); await cluster.deleteKeys(pattern(keyPrefix)) })
    const heard = stores.map((s) => recorder<ChangeEvent>((l) => s.onChange(l)))
    const dataNode = await cluster.nodeFor(`{${keyPrefix}}probe`)
    const subscribedOn = await subscriberNode(cluster, keyPrefix)
    t.ok(subscribedOn.some((n) => n !== dataNode), `subscribers on ${subscribedOn.map((n) => n.port).join(', ')}; data on ${dataNode.port}`)
    await stores[0]?.put('instances', GLOBAL_SCOPE, 'x', instance('x'))
    for (const seen of heard) await seen.until(1)
    t.pass('all six stores heard the change')
  })

  t.test('cluster store: when its subscriber\'s node dies, it says down, moves to another node, says up, and hears changes again', async (t) => {
    const keyPrefix = `${RUN_PREFIX}hop:`
    const dataNode = await cluster.nodeFor(`{${keyPrefix}}probe`)
    // Open stores until one listens on a node that does not hold its data (so the data stays up).
    const opened: RedisStore[] = []
    t.teardown(async () => { await Promise.all(opened.map((s) => s.close())); await cluster.deleteKeys(pattern(keyPrefix)) })
    let store: RedisStore | undefined
    let victim: RedisProcess | undefined
    for (let i = 0; i < 20 && store === undefined; i++) {
      const candidate = await clusterStore(cluster, `${keyPrefix}`)
      opened.push(candidate)
      const before = await subscriberNode(cluster, keyPrefix)
      if (before.length === 1 && before[0] !== dataNode) {
        store = candidate
        victim = before[0]
      } else {
        await candidate.close()
      }
    }
    if (store === undefined || victim === undefined) throw new Error('no store subscribed away from its data node')
    const writer = await clusterStore(cluster, keyPrefix)
    opened.push(writer)
    const events: boolean[] = []
    store.onConnectivity((up) => events.push(up))
    const started = Date.now()
    await victim.kill()
    t.ok(await until(() => events.length >= 2, 10_000), `down and up again within ${Date.now() - started} ms`)
    t.same(events.slice(0, 2), [false, true])
    // The command side may notice the dead node a moment after the subscriber did (its `-node`):
    // another down/up pair then, never a store left down.
    t.ok(await until(() => events.at(-1) === true && events.length % 2 === 0, 10_000), `up at the end: ${JSON.stringify(events)}`)
    t.not((await subscriberNode(cluster, keyPrefix))[0], victim, 'subscribed on another node')
    const heard = new Promise<string>((resolve) => store.onChange((e) => resolve(e.id)))
    await writer.put('instances', GLOBAL_SCOPE, 'after-hop', instance('after-hop'))
    t.equal(await Promise.race([heard, sleep(10_000).then(() => 'nothing within 10 s')]), 'after-hop')
    await victim.start()
    await cluster.healthy(15_000)
  })

  t.test('cluster store: when the master of its slot dies, calls fail closed fast, and the store comes back with it', async (t) => {
    const keyPrefix = `${RUN_PREFIX}slot-down:`
    const store = await clusterStore(cluster, keyPrefix)
    t.teardown(async () => { await store.close(); await cluster.deleteKeys(pattern(keyPrefix)) })
    const events: boolean[] = []
    store.onConnectivity((up) => events.push(up))
    await store.put('instances', GLOBAL_SCOPE, 'x', instance('x'))
    const dataNode = await cluster.nodeFor(`{${keyPrefix}}probe`)
    await dataNode.kill()
    t.ok(await until(() => events.length >= 1, 5_000), 'connectivity down')
    const started = Date.now()
    await t.rejects(store.get('instances', GLOBAL_SCOPE, 'x'), { code: 'STORE_UNAVAILABLE' })
    await t.rejects(store.put('instances', GLOBAL_SCOPE, 'y', instance('y')), { code: 'STORE_UNAVAILABLE' })
    await t.rejects(store.claimNonce('n', 1_000), { code: 'STORE_UNAVAILABLE' })
    t.equal(await store.ping(), false)
    t.ok(Date.now() - started < 6_000, `calls gave up after ${Date.now() - started} ms`)
    await dataNode.start()
    await cluster.healthy(15_000)
    t.ok(await until(() => events.length >= 2, 10_000), 'connectivity up once the node is back')
    t.same(events, [false, true])
    // No persistence and no replica here: the node came back empty. What matters is that it serves.
    await store.put('instances', GLOBAL_SCOPE, 'z', instance('z'))
    t.same(await store.get('instances', GLOBAL_SCOPE, 'z'), instance('z'))
  })

  t.test('cluster store: open fails fast with STORE_UNAVAILABLE when no node answers', async (t) => {
    const started = Date.now()
    await t.rejects(RedisStore.open({ cluster: { nodes: [`127.0.0.1:${await unusedPort()}`] }, keyPrefix: `${RUN_PREFIX}dead:` }), { code: 'STORE_UNAVAILABLE' })
    t.ok(Date.now() - started < 3_000, `gave up after ${Date.now() - started} ms`)
    await t.rejects(RedisStore.open({ cluster: { nodes: cluster.seedNodes }, keyPrefix: '' }), { code: 'CONFIG_INVALID', message: /non-empty keyPrefix/ })
  })

  t.test('openStore opens the cluster store from config', async (t) => {
    const keyPrefix = `${RUN_PREFIX}factory:`
    const store = await openStore({ kind: 'redis', cluster: { nodes: cluster.seedNodes }, keyPrefix })
    t.teardown(async () => { await store.close(); await cluster.deleteKeys(pattern(keyPrefix)) })
    t.equal(await store.ping(), true)
  })
})
