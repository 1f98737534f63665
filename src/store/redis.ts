/**
 * The Redis store: shared state for several gateway replicas (DESIGN §3, `store.kind: redis`), on
 * one server, a Sentinel-monitored master or a Cluster (DESIGN §4 "Production"; the connections
 * per topology are in redis-connections.ts).
 *
 * Layout (see redis-messages.ts): one hash per (collection, scope), field id → record JSON; a set
 * of the scopes in use per collection; locks and nonces as plain keys with an expiry.
 *
 * Guarantees, as Store promises them:
 * - writes are Lua scripts (redis-scripts.ts) that write AND publish the change in one atomic
 *   step; every instance, the writer included, learns of it from its subscriber connection, so
 *   each instance sees each change exactly once whichever process made it;
 * - `update` is optimistic compare-and-set on the stored JSON, retried with backoff;
 * - a write resolves once a majority of the master's online replicas have it (WAIT, in the same
 *   pipeline as the write: redis-replication.ts); one they do not confirm in time rejects
 *   STORE_UNAVAILABLE. Nonce claims and lock acquisitions count as writes: a nonce forgotten by
 *   a failover would let a signed admin request be replayed;
 * - fail closed: no offline queue, bounded connect and command timeouts, so when Redis is down a
 *   call rejects quickly with STORE_UNAVAILABLE instead of waiting for ever; so do the replies
 *   that mean "not now" (READONLY from a demoted master, CLUSTERDOWN, TRYAGAIN, LOADING…). The
 *   connections keep reconnecting in the background.
 * Change events published while the subscriber connection is down are lost to this instance
 * (Redis pub/sub does not replay): `onConnectivity` says when it is down and when both connections
 * are back (redis-connectivity.ts), so that caches are re-read then (resync-loop.ts).
 */
import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { ReplyError } from 'ioredis'
import { PortcullisError } from '../errors'
import { ListenerSet, silentLogger } from './listeners'
import type { StoreLogger } from './listeners'
import type { Collection, Records } from './records'
import { reconnectDelay } from './redis-backoff'
import { createConnections } from './redis-connections'
import type { RedisClient, RedisConnections } from './redis-connections'
import { changeHead, decodeBroadcast, decodeChange, redisKeys } from './redis-messages'
import type { RedisKeys } from './redis-messages'
import { RedisConnectivity } from './redis-connectivity'
import { ReplicaQuorum } from './redis-replication'
import { COMPARE_AND_SET, CREATE, PUT, RELEASE_LOCK, RENEW_LOCK, TAKE } from './redis-scripts'
import type { LuaScript } from './redis-scripts'
import type { RedisTarget } from './redis-target'
import type { BroadcastMessage, ChangeEvent, Store } from './store'

export type RedisStoreOptions = RedisTarget & {
  keyPrefix: string
  processId?: string
  logger?: StoreLogger
  /** How long a write waits for its replicas (WAIT timeout); default 1 s. */
  replicaWaitMs?: number
}

const PING_TIMEOUT_MS = 1_000
/** A lock outlives a crashed holder by at most this; a live holder renews it every third of it. */
const LOCK_TTL_MS = 30_000
const LOCK_WAIT_MS = 30_000
const CAS_ATTEMPTS = 100
/**
 * Error replies that mean "this server cannot serve the store now", not "the command is wrong":
 * a demoted master, a replica cut off from its master, a cluster slot down or moving, a server
 * still loading, a busy script, too few replicas for `min-replicas-to-write`.
 */
const UNAVAILABLE_REPLIES = ['READONLY', 'MASTERDOWN', 'CLUSTERDOWN', 'TRYAGAIN', 'LOADING', 'BUSY', 'NOREPLICAS', 'MOVED', 'ASK'] as const

export class RedisStore implements Store {
  readonly kind = 'redis' as const
  private closing: Promise<void> | undefined
  private readonly client: RedisClient
  private readonly keys: RedisKeys
  private readonly changes: ListenerSet<ChangeEvent>
  private readonly broadcasts: ListenerSet<BroadcastMessage>
  private readonly connectivity: RedisConnectivity
  private readonly quorum: ReplicaQuorum
  private readonly durably = (queue: Parameters<ReplicaQuorum['exec']>[0]): Promise<unknown> => this.quorum.exec(queue, wrote)

  private constructor(
    private readonly connections: RedisConnections,
    keys: RedisKeys,
    private readonly processId: string,
    private readonly logger: StoreLogger,
    replicaWaitMs: number | undefined,
  ) {
    this.client = connections.client
    this.keys = keys
    this.changes = new ListenerSet('change', logger)
    this.broadcasts = new ListenerSet('broadcast', logger)
    const { client, subscriber, commands } = connections
    this.connectivity = new RedisConnectivity(commands, subscriber, [keys.changes, keys.broadcast], logger)
    this.quorum = new ReplicaQuorum(client, {
      routeKey: keys.probe, ready: commands, logger, ...(replicaWaitMs === undefined ? {} : { waitTimeoutMs: replicaWaitMs }),
    })
    // Without an 'error' listener ioredis reports connection errors itself; route them to our log.
    client.on('error', (err: unknown) => logger.warn({ err }, 'redis store connection error'))
    subscriber.on('error', (err: unknown) => logger.warn({ err }, 'redis store subscriber error'))
    subscriber.on('message', (channel: string, message: string) => this.onMessage(channel, message))
  }

  static async open(opts: RedisStoreOptions): Promise<RedisStore> {
    const logger = opts.logger ?? silentLogger
    // A cluster store's keys share one hash tag, so that every script touches a single slot.
    const keys = clusterSafeKeys(opts.keyPrefix, 'cluster' in opts)
    let connections: RedisConnections | undefined
    let store: RedisStore | undefined
    try {
      connections = createConnections(opts, keys.probe)
      store = new RedisStore(connections, keys, opts.processId ?? randomUUID(), logger, opts.replicaWaitMs)
      await connections.connect()
      // Subscribed before open() resolves, so no write made after it is missed.
      await connections.subscriber.subscribe(store.keys.changes, store.keys.broadcast)
      // The first write already waits for the replicas there are.
      await store.quorum.start()
      store.connectivity.watch()
      return store
    } catch (err) {
      store?.quorum.close()
      connections?.disconnect()
      // The URL or the sentinel config may carry a password: name the failure, never the target.
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
      const created = await this.write(CREATE, this.recordKeys(collection, scope),
        [id, scope, JSON.stringify(record), this.keys.changes, this.head(collection, scope, id, 'put')])
      if (created !== 1) throw new PortcullisError('ALREADY_EXISTS', `${collection} ${id} already exists`)
    })
  }

  put<C extends Collection>(collection: C, scope: string, id: string, record: Records[C]): Promise<void> {
    return this.guard(async () => {
      await this.write(PUT, this.recordKeys(collection, scope),
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
        const written = await this.write(COMPARE_AND_SET, this.recordKeys(collection, scope), [
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
      const json = await this.write(TAKE, this.recordKeys(collection, scope),
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
    try {
      await this.guard(() => this.acquire(key, token))
    } catch (err) {
      // The SET may have landed though its reply (or its WAIT) did not: let go of what may be ours.
      void this.release(name, key, token)
      throw err
    }
    const renewal = setInterval(() => {
      RENEW_LOCK.run(this.client, [key], [token, String(LOCK_TTL_MS)])
        .catch((err: unknown) => this.logger.warn({ err, lock: name }, 'could not renew a store lock'))
    }, LOCK_TTL_MS / 3)
    renewal.unref()
    try {
      return await fn()
    } finally {
      clearInterval(renewal)
      await this.release(name, key, token)
    }
  }

  claimNonce(nonce: string, ttlMs: number): Promise<boolean> {
    return this.guard(async () => {
      const ttl = Math.max(1, Math.ceil(ttlMs))
      const key = this.keys.nonce(nonce)
      return (await this.durably((pipeline) => { pipeline.set(key, '1', 'PX', ttl, 'NX') })) === 'OK'
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
      // Routed by a key of the store, so on a cluster it asks the node serving the store's slot.
      const answer = await Promise.race([this.client.exists(this.keys.probe), timeout])
      return typeof answer === 'number'
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
      this.quorum.close()
      await this.connections.quit()
    })()
    return this.closing
  }

  /**
   * Releases a lock this holder still owns (the script checks the token). When that fails (Redis
   * away, a failover under way), it is retried in the background until it works or the lock has
   * expired anyway: a lock left behind by a blip would otherwise keep every other holder waiting
   * for LOCK_TTL_MS. Resolves after the first attempt; never rejects.
   */
  private async release(name: string, key: string, token: string): Promise<void> {
    const attempt = (): Promise<boolean> => RELEASE_LOCK.run(this.client, [key], [token]).then(() => true, () => false)
    if (await attempt()) return
    this.logger.warn({ lock: name }, 'could not release a store lock; retrying until it expires')
    const deadline = Date.now() + LOCK_TTL_MS
    void (async () => {
      for (let tries = 1; this.closing === undefined && Date.now() < deadline; tries++) {
        await sleep(reconnectDelay(tries))
        if (await attempt()) return
      }
    })()
  }

  private async acquire(key: string, token: string): Promise<void> {
    const deadline = Date.now() + LOCK_WAIT_MS
    for (let attempt = 0; ; attempt++) {
      if ((await this.durably((pipeline) => { pipeline.set(key, token, 'PX', LOCK_TTL_MS, 'NX') })) === 'OK') return
      if (Date.now() >= deadline) throw new PortcullisError('CONFLICT', `lock ${key} stayed held for ${LOCK_WAIT_MS} ms`)
      await sleep(Math.min(5 * 2 ** attempt, 200) * (0.5 + Math.random() / 2))
    }
  }

  /** A write script, then WAIT for the replicas (redis-replication.ts). */
  private write(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    return script.runIn(this.durably, keys, args)
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
      // An error reply means Redis answered (a script or command fault), not that it is down,
      // unless it is one of the replies that say this server cannot serve now.
      if (err instanceof ReplyError && !isUnavailableReply(err)) throw new PortcullisError('INTERNAL', `redis refused a store command: ${describe(err)}`, { cause: err })
      throw new PortcullisError('STORE_UNAVAILABLE', `redis store call failed: ${describe(err)}`, { cause: err })
    }
  }
}

function clusterSafeKeys(keyPrefix: string, hashTag: boolean): RedisKeys {
  try {
    return redisKeys(keyPrefix, { hashTag })
  } catch (err) {
    throw new PortcullisError('CONFIG_INVALID', describe(err), { cause: err })
  }
}

/** Whether a write's reply says it changed something (and so needs its replicas' acknowledgement). */
function wrote(reply: unknown): boolean {
  return reply === 1 || typeof reply === 'string' // 1 from the scripts; 'OK' from SET; a taken record's JSON
}

function isUnavailableReply(err: unknown): boolean {
  const message = err instanceof Error ? err.message : ''
  const code = message.slice(0, message.search(/\s|$/))
  return (UNAVAILABLE_REPLIES as readonly string[]).includes(code)
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
