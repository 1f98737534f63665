import { randomUUID } from 'node:crypto'
import { createServer, connect } from 'node:net'
import type { Server, Socket } from 'node:net'
import Redis from 'ioredis'
import t from 'tap'
import { openStore } from '../../src/store/open'
import { GLOBAL_SCOPE } from '../../src/store/records'
import { RedisStore } from '../../src/store/redis'
import type { Store } from '../../src/store/store'
import { DEFAULT_PORTS, serviceAvailable, unusedPort } from '../helpers/services'
import { instance, storeContract } from '../helpers/store-contract'
import type { StoreFixture } from '../helpers/store-contract'
import { until } from '../helpers/wait'

const REDIS_PORT = DEFAULT_PORTS.redis
const REDIS_URL = `redis://127.0.0.1:${REDIS_PORT}`
/** One random prefix per run, and one below it per fixture, so runs and cases never share keys. */
const RUN_PREFIX = `portcullis-test:${randomUUID()}:`
let fixtures = 0

async function keysUnder(prefix: string): Promise<string[]> {
  const admin = new Redis(REDIS_URL)
  try {
    const found: string[] = []
    let cursor = '0'
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
      cursor = next
      found.push(...keys)
    } while (cursor !== '0')
    return found
  } finally {
    admin.disconnect()
  }
}

async function deleteKeysUnder(prefix: string): Promise<void> {
  const keys = await keysUnder(prefix)
  if (keys.length === 0) return
  const admin = new Redis(REDIS_URL)
  try {
    await admin.del(...keys)
  } finally {
    admin.disconnect()
  }
}

async function makeRedis(keyPrefix = `${RUN_PREFIX}${++fixtures}:`): Promise<StoreFixture> {
  const open = (): Promise<RedisStore> => RedisStore.open({ url: REDIS_URL, keyPrefix })
  const opened: Store[] = []
  let current: Store = await open()
  opened.push(current)
  return {
    store: current,
    peer: async () => {
      const peer = await open()
      opened.push(peer)
      return peer
    },
    reopen: async () => {
      await current.close()
      current = await open()
      opened.push(current)
      return current
    },
    cleanup: async () => {
      await Promise.all(opened.map((store) => store.close()))
      await deleteKeysUnder(keyPrefix)
    },
  }
}

interface Relay {
  port: number
  cut: () => Promise<void>
  drop: () => void
  /** From now on, relays only the next `n` new connections and resets the others (Infinity: all). */
  admit: (n: number) => void
}

/** A TCP relay to Redis that the test can cut, to take Redis away from a connected store. */
async function relayToRedis(): Promise<Relay> {
  const sockets = new Set<Socket>()
  let admitting = Infinity
  const server: Server = createServer((client) => {
    if (admitting <= 0) {
      client.destroy()
      return
    }
    admitting--
    const upstream = connect(REDIS_PORT, '127.0.0.1')
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => socket.destroy())
      socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy() })
    }
    client.pipe(upstream).pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const cut = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of sockets) socket.destroy()
    await closed
  }
  /** Breaks every open connection but keeps accepting new ones: a network blip. */
  const drop = (): void => {
    for (const socket of sockets) socket.destroy()
  }
  return { port, cut, drop, admit: (n) => { admitting = n } }
}

t.test('redis store', async (t) => {
  if (!(await serviceAvailable(t, 'redis', REDIS_PORT))) return
  t.teardown(() => deleteKeysUnder(RUN_PREFIX))

  storeContract(t, 'redis store', () => makeRedis())

  t.test('redis store leaves no keys behind once cleaned up', async (t) => {
    const keyPrefix = `${RUN_PREFIX}cleanup:`
    const fixture = await makeRedis(keyPrefix)
    await fixture.store.put('devices', 'i1', 'd1', { ...instance('x'), id: 'd1' } as never)
    await fixture.store.claimNonce('n', 60_000)
    await fixture.store.withLock('l', async () => undefined)
    t.ok((await keysUnder(keyPrefix)).length > 0, 'the store wrote under its prefix')
    await fixture.cleanup()
    t.same(await keysUnder(keyPrefix), [])
  })

  t.test('redis store keeps records of another key prefix apart', async (t) => {
    const a = await makeRedis()
    const b = await makeRedis()
    t.teardown(a.cleanup)
    t.teardown(b.cleanup)
    await a.store.put('instances', GLOBAL_SCOPE, 'x', instance('x'))
    t.equal(await b.store.get('instances', GLOBAL_SCOPE, 'x'), undefined)
    t.equal(await b.store.claimNonce('n', 60_000), true)
    t.equal(await a.store.claimNonce('n', 60_000), true, 'nonces are per prefix too')
  })

  t.test('redis store fails fast with STORE_UNAVAILABLE when Redis cannot be reached', async (t) => {
    const port = await unusedPort()
    const started = Date.now()
    await t.rejects(RedisStore.open({ url: `redis://127.0.0.1:${port}`, keyPrefix: `${RUN_PREFIX}dead:` }), { code: 'STORE_UNAVAILABLE' })
    t.ok(Date.now() - started < 3_000, `open gave up after ${Date.now() - started} ms`)
  })

  t.test('redis store fails closed, fast, when Redis goes away under it', async (t) => {
    const relay = await relayToRedis()
    const keyPrefix = `${RUN_PREFIX}cut:`
    const store = await RedisStore.open({ url: `redis://127.0.0.1:${relay.port}`, keyPrefix })
    t.teardown(async () => { await store.close(); await deleteKeysUnder(keyPrefix) })
    await store.put('instances', GLOBAL_SCOPE, 'x', instance('x'))
    await relay.cut()
    await new Promise((resolve) => setTimeout(resolve, 50))
    const started = Date.now()
    await t.rejects(store.get('instances', GLOBAL_SCOPE, 'x'), { code: 'STORE_UNAVAILABLE' })
    await t.rejects(store.claimNonce('n', 1_000), { code: 'STORE_UNAVAILABLE' })
    await t.rejects(store.withLock('l', async () => undefined), { code: 'STORE_UNAVAILABLE' })
    t.equal(await store.ping(), false)
    t.ok(Date.now() - started < 3_000, `calls gave up after ${Date.now() - started} ms`)
  })

  t.test('redis store reports connectivity down on a lost connection, and up only once it can read and hear changes', async (t) => {
    const relay = await relayToRedis()
    const keyPrefix = `${RUN_PREFIX}connectivity:`
    const store = await RedisStore.open({ url: `redis://127.0.0.1:${relay.port}`, keyPrefix })
    const peer = await RedisStore.open({ url: REDIS_URL, keyPrefix })
    t.teardown(async () => { await store.close(); await peer.close(); await relay.cut(); await deleteKeysUnder(keyPrefix) })
    await store.put('instances', GLOBAL_SCOPE, 'x', instance('x'))
    const events: boolean[] = []
    const readOnUp = new Promise<unknown>((resolve) => store.onConnectivity((up) => {
      events.push(up)
      // The defect this guards: a resync started here used to fail with "Stream isn't writeable".
      if (up) store.get('instances', GLOBAL_SCOPE, 'x').then(resolve, resolve)
    }))
    relay.drop()
    const read = await readOnUp
    t.same(events, [false, true], 'down, then up once')
    t.match(read, { id: 'x' }, 'a read made the moment it says up succeeds')
    const heard = new Promise<string>((resolve) => store.onChange((e) => resolve(e.id)))
    await peer.put('instances', GLOBAL_SCOPE, 'y', instance('y'))
    t.equal(await heard, 'y', 'and a change made by another process reaches it: it is subscribed again')
  })

  t.test('redis store stays down while only one of its two connections is back', async (t) => {
    const relay = await relayToRedis()
    const keyPrefix = `${RUN_PREFIX}half:`
    const store = await RedisStore.open({ url: `redis://127.0.0.1:${relay.port}`, keyPrefix })
    t.teardown(async () => { await store.close(); await relay.cut(); await deleteKeysUnder(keyPrefix) })
    const events: boolean[] = []
    store.onConnectivity((up) => events.push(up))
    relay.admit(0)
    relay.drop()
    t.ok(await until(() => events.length > 0, 2_000), 'down reported')
    relay.admit(1)
    // Reconnect attempts come at most 1 s apart: within 2.5 s one connection is back and the other
    // has been reset at least once.
    await new Promise((resolve) => setTimeout(resolve, 2_500))
    t.same(events, [false], 'one connection back is not up')
    relay.admit(Infinity)
    t.ok(await until(() => events.length > 1, 3_000), 'both back')
    t.same(events, [false, true], 'then up')
  })

  t.test('openStore opens the redis store from config', async (t) => {
    const keyPrefix = `${RUN_PREFIX}factory:`
    const store = await openStore({ kind: 'redis', url: REDIS_URL, keyPrefix })
    t.teardown(async () => { await store.close(); await deleteKeysUnder(keyPrefix) })
    t.equal(store.kind, 'redis')
    t.equal(await store.ping(), true)
  })
})
