/**
 * The Redis store on a Sentinel set the test starts (one master, one replica, three sentinels from
 * Debian's redis-server): the store contract, writes that wait for the replica (WAIT), and a store
 * that follows a failover without losing an acknowledged write.
 */
import { randomUUID } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { loadConfig } from '../../src/config/load'
import { openStore } from '../../src/store/open'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { RedisStore } from '../../src/store/redis'
import { majorityOf, onlineReplicas } from '../../src/store/redis-replication'
import type { Store } from '../../src/store/store'
import { unusedPort } from '../helpers/services'
import { instance, reopenableFixture, storeContract } from '../helpers/store-contract'
import type { StoreFixture } from '../helpers/store-contract'
import { infoField, redisServerAvailable, startSentinelSet, type SentinelSet } from '../helpers/redis-topology'
import { until } from '../helpers/wait'

const RUN_PREFIX = `portcullis-test:${randomUUID()}:`
let fixtures = 0

async function deleteKeys(set: SentinelSet, prefix: string): Promise<void> {
  const master = await set.master()
  const keys = (await master.command('KEYS', `${prefix}*`)) as string[]
  if (keys.length > 0) await master.command('DEL', ...keys)
}

function sentinelStore(set: SentinelSet, keyPrefix: string, extra: { replicaWaitMs?: number } = {}): Promise<RedisStore> {
  return RedisStore.open({ sentinel: { masterName: set.masterName, nodes: set.sentinelNodes }, keyPrefix, ...extra })
}

function makeFixture(set: SentinelSet, keyPrefix = `${RUN_PREFIX}${++fixtures}:`): Promise<StoreFixture> {
  return reopenableFixture(() => sentinelStore(set, keyPrefix), () => deleteKeys(set, keyPrefix))
}

function configFile(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'portcullis-store-config-')), 'portcullis.yaml')
  writeFileSync(path, yaml)
  return path
}

t.test('config store: the url form is unchanged, the sentinel form is strict and names the wrong key', async (t) => {
  t.same(loadConfig({ file: configFile('store:\n  kind: redis\n'), env: {} }).store,
    { kind: 'redis', url: 'redis://127.0.0.1:6379', keyPrefix: 'portcullis:', dataDir: './data' }, 'kind: redis alone is the local server')
  t.same(loadConfig({ file: configFile('store:\n  kind: redis\n  url: redis://r:6380\n  keyPrefix: p\n  dataDir: /d\n'), env: {} }).store,
    { kind: 'redis', url: 'redis://r:6380', keyPrefix: 'p', dataDir: '/d' })
  t.same(loadConfig({
    file: configFile('store:\n  kind: redis\n  sentinel:\n    masterName: mymaster\n    nodes: ["s1:26379", "[fd00::1]:26379"]\n'),
    env: { PORTCULLIS_STORE__SENTINEL__PASSWORD: 'from-env' },
  }).store, {
    kind: 'redis', keyPrefix: 'portcullis:', dataDir: './data',
    sentinel: { masterName: 'mymaster', nodes: ['s1:26379', '[fd00::1]:26379'], password: 'from-env' },
  }, 'the sentinel form, its password from an environment override')
  const refused = (yaml: string): unknown => {
    try {
      loadConfig({ file: configFile(yaml), env: {} })
      return undefined
    } catch (err) {
      return err
    }
  }
  t.match(refused('store:\n  kind: redis\n  sentinel:\n    master: m\n    nodes: ["s1"]\n'), {
    code: 'CONFIG_INVALID', message: /store\.sentinel\.masterName:[^\n]*\n\s*store\.sentinel\.nodes\.0: expected host:port[^\n]*\n\s*store\.sentinel\.master: Unrecognized key/,
  })
  t.match(refused('store:\n  kind: redis\n  sentinel:\n    masterName: m\n    nodes: []\n'), { message: /store\.sentinel\.nodes: / })
  t.match(refused('store:\n  kind: redis\n  url: redis://r\n  sentinel:\n    masterName: m\n    nodes: ["s:1"]\n'),
    { message: /store\.sentinel: give one of url, sentinel or cluster, not url and sentinel/ })
  t.match(refused('store:\n  kind: redis\n  sentinels:\n    masterName: m\n'), { message: /store\.sentinels: Unrecognized key/ })
  t.match(refused('store:\n  kind: redis\n  sentinel:\n    masterName: m\n    nodes: ["s:99999"]\n'), { message: /store\.sentinel\.nodes\.0: expected host:port/ })
})

t.test('writes wait for a majority of the replicas the master reports online', async (t) => {
  const info = (...replicas: string[]): string => ['# Replication', 'role:master', `connected_slaves:${replicas.length}`,
    ...replicas.map((state, i) => `slave${i}:ip=10.0.0.${i},port=6379,state=${state},offset=1,lag=0`), 'master_repl_offset:1', ''].join('\r\n')
  const table: Array<[string, string, number, number]> = [
    ['no replica (standalone): no WAIT', info(), 0, 0],
    ['one replica', info('online'), 1, 1],
    ['two replicas: both', info('online', 'online'), 2, 2],
    ['three replicas: two', info('online', 'online', 'online'), 3, 2],
    ['a replica still syncing does not count', info('online', 'wait_bgsave'), 1, 1],
    ['a replica node itself: no WAIT (its writes fail READONLY)', '# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\n', 0, 0],
  ]
  for (const [label, text, online, needed] of table) {
    t.equal(onlineReplicas(text), online, `${label}: ${online} online`)
    t.equal(majorityOf(online), needed, `${label}: waits for ${needed}`)
  }
})

t.test('redis store on Sentinel', async (t) => {
  if (!redisServerAvailable(t)) return
  const set = await startSentinelSet({ replicas: 1 })
  t.teardown(() => set.stop())

  storeContract(t, 'sentinel store', () => makeFixture(set))

  t.test('sentinel store: an acknowledged write is already on the replica', async (t) => {
    const keyPrefix = `${RUN_PREFIX}on-replica:`
    const store = await sentinelStore(set, keyPrefix)
    t.teardown(async () => { await store.close(); await deleteKeys(set, keyPrefix) })
    const replica = set.dataNodes.find((n) => n !== (set.dataNodes[0]))
    for (let i = 0; i < 20; i++) {
      await store.put('instances', GLOBAL_SCOPE, `x${i}`, instance(`x${i}`))
      // Read straight from the replica at once: WAIT returned only once it had the write.
      const json = await replica?.command('HGET', `${keyPrefix}rec:instances:${GLOBAL_SCOPE}`, `x${i}`)
      t.equal(typeof json === 'string' && JSON.parse(json).id, `x${i}`, `write ${i} is on the replica when put() resolves`)
    }
  })

  t.test('sentinel store: a write its replica does not confirm in time fails STORE_UNAVAILABLE, and works again once it does', async (t) => {
    const keyPrefix = `${RUN_PREFIX}stalled-replica:`
    const store = await sentinelStore(set, keyPrefix, { replicaWaitMs: 300 })
    t.teardown(async () => { await store.close(); await deleteKeys(set, keyPrefix) })
    const replica = set.dataNodes[1]
    if (replica === undefined) throw new Error('no replica')
    await store.put('instances', GLOBAL_SCOPE, 'before', instance('before'))
    // A replica that stops acknowledging (frozen, its connection still open: the master still counts it online).
    const pid = await replica.pid()
    process.kill(pid, 'SIGSTOP')
    try {
      const started = Date.now()
      await t.rejects(store.put('instances', GLOBAL_SCOPE, 'during', instance('during')), { code: 'STORE_UNAVAILABLE', message: /0 of the 1 Redis replicas/ })
      await t.rejects(store.claimNonce('n-during', 60_000), { code: 'STORE_UNAVAILABLE' }, 'a nonce claim is a write too')
      await t.rejects(store.create('instances', GLOBAL_SCOPE, 'created', instance('created')), { code: 'STORE_UNAVAILABLE' })
      t.ok(Date.now() - started < 2_000, `three unconfirmed writes failed within ${Date.now() - started} ms`)
      await t.rejects(store.create('instances', GLOBAL_SCOPE, 'before', instance('before')), { code: 'ALREADY_EXISTS' },
        'a refused create writes nothing and needs no replica')
      t.same(await store.get('instances', GLOBAL_SCOPE, 'before'), instance('before'), 'reads still work')
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    await store.put('instances', GLOBAL_SCOPE, 'after', instance('after'))
    t.same(await store.get('instances', GLOBAL_SCOPE, 'after'), instance('after'), 'writes succeed again once the replica answers')
  })

  t.test('sentinel store: open fails fast with STORE_UNAVAILABLE when no sentinel answers, or the master name is unknown', async (t) => {
    const dead = [`127.0.0.1:${await unusedPort()}`, `127.0.0.1:${await unusedPort()}`]
    let started = Date.now()
    await t.rejects(RedisStore.open({ sentinel: { masterName: set.masterName, nodes: dead }, keyPrefix: `${RUN_PREFIX}dead:` }), { code: 'STORE_UNAVAILABLE' })
    t.ok(Date.now() - started < 3_000, `gave up after ${Date.now() - started} ms`)
    started = Date.now()
    await t.rejects(RedisStore.open({ sentinel: { masterName: 'no-such-master', nodes: set.sentinelNodes }, keyPrefix: `${RUN_PREFIX}dead:` }), { code: 'STORE_UNAVAILABLE' })
    t.ok(Date.now() - started < 3_000, `gave up after ${Date.now() - started} ms`)
  })

  t.test('openStore opens the sentinel store from a config file', async (t) => {
    const keyPrefix = `${RUN_PREFIX}factory:`
    const config = loadConfig({
      file: configFile(`store:\n  kind: redis\n  keyPrefix: "${keyPrefix}"\n  sentinel:\n    masterName: ${set.masterName}\n    nodes: ${JSON.stringify(set.sentinelNodes)}\n`),
      env: {},
    })
    const store = await openStore(config.store)
    t.teardown(async () => { await store.close(); await deleteKeys(set, keyPrefix) })
    t.equal(store.kind, 'redis')
    t.equal(await store.ping(), true)
  })

  // Last: it kills the master (the set then runs on the promoted replica).
  t.test('sentinel store follows a failover: down, then up on the promoted master, with every acknowledged write', async (t) => {
    const keyPrefix = `${RUN_PREFIX}failover:`
    const store = await sentinelStore(set, keyPrefix)
    const peer = await sentinelStore(set, keyPrefix)
    t.teardown(async () => { await store.close(); await peer.close(); await deleteKeys(set, keyPrefix) })
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
          t.equal((err as { code?: string }).code, 'STORE_UNAVAILABLE', `write ${id} failed closed`)
          await sleep(50)
        }
      }
    })()
    await until(() => acknowledged.length >= 20, 5_000)
    // A lock held across the failover: its release fails while the master is gone.
    let releaseLock!: () => void
    const held = store.withLock('across-failover', () => new Promise<void>((resolve) => { releaseLock = resolve }))
    await sleep(50)
    const old = await set.master()
    const killedAt = Date.now()
    await old.kill('SIGKILL')
    releaseLock()
    await held
    const promoted = await set.failedOver(old)
    t.not(promoted.port, old.port, `the sentinels promoted ${promoted.port} ${Date.now() - killedAt} ms after the kill`)
    const ackedAtKill = acknowledged.length
    t.ok(await until(() => events.length >= 2, 10_000), 'connectivity went down and came back')
    t.same(events.slice(0, 2), [false, true])
    t.ok(await until(() => acknowledged.length > ackedAtKill + 10, 10_000), 'writes are acknowledged again on the promoted master')
    writing = false
    await writer
    const stored = new Set((await peer.list('devices', 'i1')).map((r) => r.id))
    const lost = acknowledged.filter((id) => !stored.has(id))
    t.same(lost, [], `all ${acknowledged.length} acknowledged writes are on the promoted master`)
    const heard = new Promise<string>((resolve) => store.onChange((e) => { if (e.id === 'after-failover') resolve(e.id) }))
    await peer.put('instances', GLOBAL_SCOPE, 'after-failover', instance('after-failover'))
    t.equal(await heard, 'after-failover', 'change notifications flow again')
    const lockStarted = Date.now()
    t.equal(await peer.withLock('across-failover', async () => 'taken'), 'taken')
    t.ok(Date.now() - lockStarted < 5_000, `a lock whose release failed in the failover is free again ${Date.now() - lockStarted} ms later (not after its 30 s expiry)`)

    // The old master comes back as a replica of the promoted one; writes wait for it again.
    await old.start()
    t.ok(await until(async () => infoField(await old.command('INFO', 'replication'), 'master_link_status') === 'up', 15_000),
      'the old master rejoined as a replica')
    // The store re-reads its replica count every 2 s; from then on a write resolves only once the
    // rejoined replica has it.
    await sleep(2_500)
    await store.put('instances', GLOBAL_SCOPE, 'rejoined', instance('rejoined'))
    t.type(await old.command('HGET', `${keyPrefix}rec:instances:${GLOBAL_SCOPE}`, 'rejoined'), 'string', 'a write is on the rejoined replica when put() resolves')
  })
})
