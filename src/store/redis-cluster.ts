/**
 * What the Redis store needs on a Cluster beyond ioredis' `Cluster` client: a change subscription
 * whose losses it can see, and a signal for when commands to its slot may have missed something.
 *
 * Pub/sub on a cluster: a classic PUBLISH (also one inside a script) is forwarded over the
 * cluster bus to every node, so a subscriber on ANY node hears every change. ioredis' own cluster
 * subscriber hops to another node when its node goes, silently (it emits nothing), so messages
 * lost meanwhile would go unnoticed: caches would stay wrong without knowing it. ClusterSubscription
 * does the same hop, but says `close` when its connection is lost and `ready` when a new one is
 * up, so RedisConnectivity reports the loss and the replica resyncs (resync-loop.ts). (Sharded
 * pub/sub, SPUBLISH, would keep messages within the slot's shard; classic pub/sub is enough for
 * the store's few messages per admin write, and works the same on every topology.)
 *
 * Commands: the `Cluster` client stays "ready" while a single node is lost, yet the change
 * notifications of that node's last writes may never have reached our subscriber. So a node
 * leaving the client's pool (`-node`: its connection ended) or the whole client closing counts as
 * a loss, and the command side is back once a command routed to the store's slot answers.
 */
import { EventEmitter } from 'node:events'
import Redis, { type Cluster } from 'ioredis'
import { reconnectDelay } from './redis-backoff'
import type { HostPort } from './redis-target'

/** The connection settings the subscriber shares with the store's other connections. */
export interface SubscriberOptions {
  connectTimeout: number
  commandTimeout: number
  enableOfflineQueue: boolean
  maxRetriesPerRequest: number
  password?: string
}

/**
 * A subscriber connection to one cluster node at a time. Events: `ready` (connected; subscribe
 * now), `close` (lost; a new node is tried at once and then with backoff), `message`, `error`.
 */
export class ClusterSubscription extends EventEmitter {
  private current: Redis | undefined
  private cursor: number
  private attempts = 0
  private closed = false
  private retry: NodeJS.Timeout | undefined

  constructor(
    /** Nodes to try, the client's current view first; called at each attempt. */
    private readonly candidates: () => HostPort[],
    private readonly options: SubscriberOptions,
  ) {
    super()
    // Replicas start on different nodes, so one node's loss does not blind them all at once.
    this.cursor = Math.floor(Math.random() * 1024)
  }

  /** Connects to the first candidate that answers (each tried once); rejects when none does. */
  async connect(): Promise<void> {
    const count = Math.max(1, this.candidates().length)
    let last: unknown = new Error('no cluster node to subscribe on')
    for (let i = 0; i < count; i++) {
      try {
        await this.connectToNext()
        return
      } catch (err) {
        last = err
      }
    }
    throw last
  }

  get status(): string {
    return this.current?.status ?? 'reconnecting'
  }

  subscribe(...channels: string[]): Promise<unknown> {
    const connection = this.current
    if (connection === undefined) return Promise.reject(new Error('the cluster subscriber is not connected'))
    return connection.subscribe(...channels)
  }

  async quit(): Promise<void> {
    const connection = this.stop()
    if (connection !== undefined) await connection.quit().catch(() => connection.disconnect())
  }

  disconnect(): void {
    this.stop()?.disconnect()
  }

  private stop(): Redis | undefined {
    this.closed = true
    clearTimeout(this.retry)
    const connection = this.current
    this.current = undefined
    return connection
  }

  private async connectToNext(): Promise<void> {
    const nodes = this.candidates()
    const node = nodes[this.cursor++ % Math.max(1, nodes.length)]
    if (node === undefined) throw new Error('no cluster node to subscribe on')
    // No reconnects of its own: when it ends, the next node is tried (the old one may stay away).
    const connection = new Redis({ ...this.options, host: node.host, port: node.port, lazyConnect: true, retryStrategy: () => null })
    connection.on('error', (err: unknown) => this.emit('error', err))
    connection.on('message', (channel: string, message: string) => this.emit('message', channel, message))
    try {
      await connection.connect()
    } catch (err) {
      connection.disconnect()
      throw err
    }
    if (this.closed) {
      connection.disconnect()
      return
    }
    this.current = connection
    this.attempts = 0
    connection.once('end', () => this.lost(connection))
    this.emit('ready')
  }

  private lost(connection: Redis): void {
    if (this.current !== connection) return
    this.current = undefined
    this.emit('close')
    this.scheduleRetry(0)
  }

  private scheduleRetry(delayMs: number): void {
    if (this.closed) return
    this.retry = setTimeout(() => {
      this.connectToNext().catch(() => this.scheduleRetry(reconnectDelay(++this.attempts)))
    }, delayMs)
    this.retry.unref()
  }
}

/**
 * The command side of a cluster store as a connection with `close` and `ready` events (see the
 * file comment): `close` when a node leaves the pool or the client closes, `ready` once `probe`
 * (a command routed to the store's slot) answers after the last loss.
 */
export class ClusterCommandHealth extends EventEmitter {
  private up = true
  private losses = 0
  private probing = false
  private stopped = false

  constructor(private readonly cluster: Cluster, private readonly probe: () => Promise<unknown>) {
    super()
  }

  /**
   * Starts listening; call once the client is ready. (While it connects, the client drops the
   * seed nodes that serve no slot, replicas for instance: `-node` events that are no loss.)
   */
  watch(): void {
    this.cluster.on('-node', () => this.lost())
    this.cluster.on('close', () => this.lost())
  }

  get status(): string {
    return this.up ? 'ready' : 'reconnecting'
  }

  stop(): void {
    this.stopped = true
  }

  private lost(): void {
    if (this.stopped) return
    this.losses++
    if (this.up) {
      this.up = false
      this.emit('close')
    }
    if (!this.probing) this.probeUntilBack().catch(() => undefined)
  }

  private async probeUntilBack(): Promise<void> {
    this.probing = true
    try {
      for (let attempt = 0; !this.stopped;) {
        const losses = this.losses
        // Bounded: a probe that never settles (a command parked while the client re-reads its
        // slots) must not leave the store reported down for good.
        const answered = await settlesWithin(this.probe(), PROBE_TIMEOUT_MS)
        // A loss while the probe ran may predate its answer: probe again.
        if (answered && losses === this.losses) break
        if (!answered) await sleep(reconnectDelay(++attempt))
      }
    } finally {
      this.probing = false
    }
    if (this.stopped || this.up) return
    this.up = true
    this.emit('ready')
  }
}

/** A probe that has not answered after this long counts as not answered; the next one follows. */
const PROBE_TIMEOUT_MS = 2_000

/** True when `promise` fulfils within `ms`; false when it rejects or takes longer. */
function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    timer.unref()
    promise.then(() => { clearTimeout(timer); resolve(true) }, () => { clearTimeout(timer); resolve(false) })
  })
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref())
}
