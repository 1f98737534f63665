/**
 * The Redis store: shared state for several gateway replicas (DESIGN §3, `store.kind: redis`).
 *
 * Layout (see redis-messages.ts): one hash per (collection, scope), field id → record JSON; a set
 * of the scopes in use per collection; locks and nonces as plain keys with an expiry.
 *
 * Guarantees, as Store promises them:
 * - writes are Lua scripts (redis-scripts.ts) that write AND publish the change in one atomic
 *   step; every instance, the writer included, learns of it from its subscriber connection, so
 *   each instance sees each change exactly once whichever process made it;
 * - `update` is optimistic compare-and-set on the stored JSON, retried with backoff;
 * - fail closed: no offline queue, bounded connect and command timeouts, so when Redis is down a
 *   call rejects quickly with STORE_UNAVAILABLE instead of waiting for ever. The connections keep
 *   reconnecting in the background.
 * Change events published while the subscriber connection is down are lost to this instance
 * (Redis pub/sub does not replay): `onConnectivity` says when it is down and when both connections
 * are back (redis-connectivity.ts), so that caches are re-read then (resync-loop.ts).
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import Redis, { ReplyError } from 'ioredis'
import { PortcullisError } from '../errors'
import { ListenerSet, silentLogger } from './listeners'
import type { StoreLogger } from './listeners'
import type { Collection, Records } from './records'
import { changeHead, decodeBroadcast, decodeChange, redisKeys } from './redis-messages'
import type { RedisKeys } from './redis-messages'
import { RedisConnectivity } from './redis-connectivity'
import { COMPARE_AND_SET, CREATE, PUT, RELEASE_LOCK, RENEW_LOCK, TAKE } from './redis-scripts'
import type { BroadcastMessage, ChangeEvent, Store } from './store'

export interface RedisStoreOptions {
  url: string
  keyPrefix: string
  processId?: string
  logger?: StoreLogger
}

const CONNECTION_OPTIONS = {
  lazyConnect: true, // open() connects explicitly, so an unreachable Redis fails open()
  enableOfflineQueue: false, // a command while disconnected rejects at once (fail closed)
  maxRetriesPerRequest: 1,
  connectTimeout: 2_000,
  commandTimeout: 5_000,
  // At most 1 s between reconnect attempts: the replica stays stale until both connections are
  // back, so a healed partition should be noticed within about a second. An attempt against a
  // refused port costs next to nothing.
  retryStrategy: (times: number): number => Math.min(50 * 2 ** Math.min(times, 5), 1_000),
}
const PING_TIMEOUT_MS = 1_000
/** A lock outlives a crashed holder by at most this; a live holder renews it every third of it. */
const LOCK_TTL_MS = 30_000
const LOCK_WAIT_MS = 30_000
const CAS_ATTEMPTS = 100

export class RedisStore implements Store {
  readonly kind = 'redis' as const
  private closing: Promise<void> | undefined
  private readonly keys: RedisKeys
  private readonly changes: ListenerSet<ChangeEvent>
  private readonly broadcasts: ListenerSet<BroadcastMessage>
  private readonly connectivity: RedisConnectivity

  private constructor(
    private readonly client: Redis,
    private readonly subscriber: Redis,
    keyPrefix: string,
    private readonly processId: string,
    private readonly logger: StoreLogger,
  ) {
    this.keys = redisKeys(keyPrefix)
    this.changes = new ListenerSet('change', logger)
    this.broadcasts = new ListenerSet('broadcast', logger)
    this.connectivity = new RedisConnectivity(client, subscriber, [this.keys.changes, this.keys.broadcast], logger)
    // Without an 'error' listener ioredis reports connection errors itself; route them to our log.
    client.on('error', (err: unknown) => logger.warn({ err }, 'redis store connection error'))
    subscriber.on('error', (err: unknown) => logger.warn({ err }, 'redis store subscriber error'))
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message))
  }

  static async open(opts: RedisStoreOptions): Promise<RedisStore> {
    const logger = opts.logger ?? silentLogger
    let client: Redis | undefined
    let subscriber: Redis | undefined
    try {
      client = new Redis(opts.url, CONNECTION_OPTIONS)
      subscriber = new Redis(opts.url, CONNECTION_OPTIONS)
      const store = new RedisStore(client, subscriber, opts.keyPrefix, opts.processId ?? randomUUID(), logger)
      await Promise.all([client.connect(), subscriber.connect()])
      // Subscribed before open() resolves, so no write made after it is missed.
      await subscriber.subscribe(store.keys.changes, store.keys.broadcast)
      store.connectivity.watch()
      return store
    } catch (err) {
      client?.disconnect()
      subscriber?.disconnect()
      // The URL may carry a password: name the failure, never the URL.
      throw new PortcullisError('STORE_UNAVAILABLE', `could not connect to Redis: ${describe(err)}`, { cause: err })
    }
  }

  get<C extends Collection>(collection: C, scope: string, id: string): Promise<Records[C] | undefined> {
    return this.guard(async () => {
      const json = await this.client.hget(this.keys.records(collection, scope), id)
      return json === null ? undefined : (JSON.parse(json) as Records[C])
    })
  }

  /** Ordered by id, as the embedded store lists. */
  list<C extends Collection>(collection: C, scope: string): Promise<Records[C][]> {
    return this.guard(async () => {
      const all = await this.client.hgetall(this.keys.records(collection, scope))
      return Object.keys(all).sort().map((id) => JSON.parse(all[id] as string) as Records[C])
    })
  }

  scopes(collection: Collection): Promise<string[]> {
    return this.guard(async () => (await this.client.smembers(this.keys.scopes(collection))).sort())
  }

  count(collection: Collection, scope: string): Promise<number> {
    return this.guard(() => this.client.hlen(this.keys.records(collection, scope)))
  }

  create<C extends Collection>(collection: C, scope: string, id: string, record: Records[C]): Promise<void> {
    return this.guard(async () => {
      const created = await CREATE.run(this.client, this.recordKeys(collection, scope),
        [id, scope, JSON.stringify(record), this.keys.changes, this.head(collection, scope, id, 'put')])
      if (created !== 1) throw new PortcullisError('ALREADY_EXISTS', `${collection} ${id} already exists`)
    })
  }

  put<C extends Collection>(collection: C, scope: string, id: string, record: Records[C]): Promise<void> {
    return this.guard(async () => {
      await PUT.run(this.client, this.recordKeys(collection, scope),
        [id, scope, JSON.stringify(record), this.keys.changes, this.head(collection, scope, id, 'put')])
    })
  }

  update<C extends Collection>(
    collection: C, scope: string, id: string,
    mutate: (current: Records[C] | undefined) => Records[C] | undefined,
  ): Promise<Records[C] | undefined> {
    return this.guard(async () => {
      const key = this.keys.records(collection, scope)
      for (let attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        const seen = await this.client.hget(key, id)
        const next = mutate(seen === null ? undefined : (JSON.parse(seen) as Records[C]))
        if (next === undefined) return seen === null ? undefined : (JSON.parse(seen) as Records[C])
        const json = JSON.stringify(next)
        const written = await COMPARE_AND_SET.run(this.client, this.recordKeys(collection, scope), [
          id, scope, json, this.keys.changes, this.head(collection, scope, id, 'put'),
          seen ?? '', seen === null ? '0' : '1',
        ])
        if (written === 1) return JSON.parse(json) as Records[C]
        // Someone wrote in between: back off a little (with jitter so racers spread out) and retry.
        await sleep(Math.random() * Math.min(2 ** attempt, 50))
      }
      throw new PortcullisError('CONFLICT', `${collection} ${id} kept changing; gave up after ${CAS_ATTEMPTS} attempts`)
    })
  }

  take<C extends Collection>(collection: C, scope: string, id: string): Promise<Records[C] | undefined> {
    return this.guard(async () => {
      const json = await TAKE.run(this.client, this.recordKeys(collection, scope),
        [id, scope, this.keys.changes, this.head(collection, scope, id, 'delete')])
      return typeof json === 'string' ? (JSON.parse(json) as Records[C]) : undefined
    })
  }

  async delete(collection: Collection, scope: string, id: string): Promise<boolean> {
    return (await this.take(collection, scope, id)) !== undefined
  }

  async withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const key = this.keys.lock(name)
    const token = randomUUID()
    await this.guard(() => this.acquire(key, token))
    const renewal = setInterval(() => {
      RENEW_LOCK.run(this.client, [key], [token, String(LOCK_TTL_MS)])
        .catch((err: unknown) => this.logger.warn({ err, lock: name }, 'could not renew a store lock'))
    }, LOCK_TTL_MS / 3)
    renewal.unref()
    try {
      return await fn()
    } finally {
      clearInterval(renewal)
      // If the release fails the lock still expires after LOCK_TTL_MS.
      await RELEASE_LOCK.run(this.client, [key], [token])
        .catch((err: unknown) => this.logger.warn({ err, lock: name }, 'could not release a store lock'))
    }
  }

  claimNonce(nonce: string, ttlMs: number): Promise<boolean> {
    return this.guard(async () => {
      const ttl = Math.max(1, Math.ceil(ttlMs))
      return (await this.client.set(this.keys.nonce(nonce), '1', 'PX', ttl, 'NX')) === 'OK'
    })
  }

  onChange(listener: (event: ChangeEvent) => void): () => void {
    return this.changes.add(listener)
  }

  broadcast(topic: string, payload: Record<string, unknown>): Promise<void> {
    return this.guard(async () => {
      const message: BroadcastMessage = { topic, payload, origin: this.processId }
      await this.client.publish(this.keys.broadcast, JSON.stringify(message))
    })
  }

  onBroadcast(listener: (message: BroadcastMessage) => void): () => void {
    return this.broadcasts.add(listener)
  }

  onConnectivity(listener: (up: boolean) => void): () => void {
    return this.connectivity.on(listener)
  }

  async ping(): Promise<boolean> {
    if (this.closing !== undefined) return false
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('TIMEOUT'), PING_TIMEOUT_MS) })
    try {
      return (await Promise.race([this.client.ping(), timeout])) === 'PONG'
    } catch {
      return false
    } finally {
      clearTimeout(timer)
    }
  }

  /** Quits both connections. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.changes.clear()
      this.broadcasts.clear()
      this.connectivity.stop()
      await Promise.all([quit(this.client), quit(this.subscriber)])
    })()
    return this.closing
  }

  private async acquire(key: string, token: string): Promise<void> {
    const deadline = Date.now() + LOCK_WAIT_MS
    for (let attempt = 0; ; attempt++) {
      if ((await this.client.set(key, token, 'PX', LOCK_TTL_MS, 'NX')) === 'OK') return
      if (Date.now() >= deadline) throw new PortcullisError('CONFLICT', `lock ${key} stayed held for ${LOCK_WAIT_MS} ms`)
      await sleep(Math.min(5 * 2 ** attempt, 200) * (0.5 + Math.random() / 2))
    }
  }

  private recordKeys(collection: Collection, scope: string): string[] {
    return [this.keys.records(collection, scope), this.keys.scopes(collection)]
  }

  private head(collection: Collection, scope: string, id: string, op: ChangeEvent['op']): string {
    return changeHead(this.processId, collection, scope, id, op)
  }

  private onMessage(channel: string, message: string): void {
    if (channel === this.keys.changes) {
      const event = decodeChange(message)
      if (event === undefined) this.logger.warn({ channel }, 'ignored a malformed store change message')
      else this.changes.emit(event)
    } else if (channel === this.keys.broadcast) {
      const broadcast = decodeBroadcast(message)
      if (broadcast === undefined) this.logger.warn({ channel }, 'ignored a malformed store broadcast')
      else this.broadcasts.emit(broadcast)
    }
  }

  /** Runs a Redis call, mapping failures to stable codes (fail closed). */
  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closing !== undefined) throw new PortcullisError('STORE_UNAVAILABLE', 'the store is closed')
    try {
      return await fn()
    } catch (err) {
      if (err instanceof PortcullisError) throw err
      // An error reply means Redis answered (a script or command fault), not that it is down.
      if (err instanceof ReplyError) throw new PortcullisError('INTERNAL', `redis refused a store command: ${describe(err)}`, { cause: err })
      throw new PortcullisError('STORE_UNAVAILABLE', `redis store call failed: ${describe(err)}`, { cause: err })
    }
  }
}

async function quit(connection: Redis): Promise<void> {
  try {
    await connection.quit()
  } catch {
    connection.disconnect()
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
