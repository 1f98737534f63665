/**
 * Durable writes on a replicated Redis (DESIGN §4 "Production": a write the admin API
 * acknowledges is on a majority of the Redis replicas when replicas exist).
 *
 * Redis replicates asynchronously: a write the master answered may be lost if the master dies
 * before a replica has it, and Sentinel (or Cluster) then promotes a replica without it. `WAIT n
 * timeout` blocks the caller until n replicas have acknowledged every write made before it on the
 * same connection, or the timeout passes, and answers how many did. So each write is sent as ONE
 * pipeline `[write, WAIT majority timeout]`: both go down one connection to one server, so the
 * WAIT counts the replicas of the very master that applied the write (a WAIT sent after a
 * reconnect could count the replicas of a promoted one). On a cluster the pipeline is routed by the
 * write's key, so the WAIT runs on the master of that key's slot (the "same-slot" trick: ioredis
 * sends a pipeline to the node of its keyed commands, and WAIT has no key).
 *
 * Majority: ⌊n/2⌋ + 1 of the n replicas the master reports online (`INFO replication`,
 * `slaveK:…,state=online`), read when the store opens, every REFRESH_MS, when the command
 * connection is ready again (a failover changes the master and its replicas) and after a WAIT that
 * fell short. No online replica: no WAIT (a standalone Redis). A WAIT that falls short fails the
 * write with STORE_UNAVAILABLE (the admin API answers 503): the write may still be applied, and
 * may survive, but it was never acknowledged, so the caller retries or reads back; never a silent
 * success.
 *
 * What this does not cover: a replica that is online but has not synced yet counts only once it
 * is `online`; a replica added between two refreshes is waited for from the next refresh on.
 * Redis' own `min-replicas-to-write` can refuse writes on the master itself.
 */
import type { ChainableCommander } from 'ioredis'
import { PortcullisError } from '../errors'
import type { StoreLogger } from './listeners'
import type { RedisClient, WatchedConnection } from './redis-connections'

const REFRESH_MS = 2_000
const WAIT_TIMEOUT_MS = 1_000

export interface ReplicaQuorumOptions {
  /** Routes the INFO command to the node serving the store's keys (any key of the store). */
  routeKey: string
  /** The command side's `ready` (a reconnect, maybe to a promoted master) triggers a refresh. */
  ready: WatchedConnection
  logger: StoreLogger
  waitTimeoutMs?: number
  refreshMs?: number
}

/** Online replicas in an `INFO replication` reply; 0 when the node is itself a replica. */
export function onlineReplicas(info: string): number {
  if (!/^role:master\s*$/m.test(info)) return 0
  let count = 0
  for (const line of info.split('\n')) {
    if (/^slave\d+:/.test(line) && /(?:^|[:,])state=online(?:,|\s*$)/.test(line)) count++
  }
  return count
}

export function majorityOf(replicas: number): number {
  return replicas === 0 ? 0 : Math.floor(replicas / 2) + 1
}

export class ReplicaQuorum {
  private online = 0
  private refreshing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private closed = false
  private started = false
  private readonly waitTimeoutMs: number

  constructor(private readonly client: RedisClient, private readonly o: ReplicaQuorumOptions) {
    this.waitTimeoutMs = o.waitTimeoutMs ?? WAIT_TIMEOUT_MS
  }

  /** Reads the replica count once (open() fails if it cannot) and keeps it fresh until close(). */
  async start(): Promise<void> {
    await this.refresh()
    this.o.ready.on('ready', () => this.refreshSoon())
    this.timer = setInterval(() => this.refreshSoon(), this.o.refreshMs ?? REFRESH_MS)
    this.timer.unref()
  }

  close(): void {
    this.closed = true
    clearInterval(this.timer)
  }

  /** How many replicas a write waits for now. */
  get needed(): number {
    return majorityOf(this.online)
  }

  /**
   * Runs the write `queue` adds (one command) in a pipeline followed by WAIT, when replicas exist,
   * and answers the write's reply. `changed(reply)` says whether the reply means something was
   * written (a refused create writes nothing and needs no acknowledgement).
   */
  async exec(queue: (pipeline: ChainableCommander) => void, changed: (reply: unknown) => boolean): Promise<unknown> {
    // A refresh under way (the connection just came back, maybe to a promoted master) decides.
    // (A failed refresh keeps the last count; the write then fails on its own if Redis is away.)
    if (this.refreshing !== undefined) await this.refreshing.catch(() => undefined)
    const needed = this.needed
    const pipeline = this.client.pipeline()
    queue(pipeline)
    if (needed > 0) pipeline.call('WAIT', needed, this.waitTimeoutMs)
    const results = await pipeline.exec()
    const [writeError, reply] = results?.[0] ?? [new Error('empty pipeline reply'), undefined]
    if (writeError !== null) throw writeError
    if (needed === 0 || !changed(reply)) return reply
    const [waitError, acked] = results?.[1] ?? [new Error('no WAIT reply'), undefined]
    if (waitError !== null) throw waitError
    if (typeof acked !== 'number' || acked < needed) {
      this.refreshSoon()
      throw new PortcullisError('STORE_UNAVAILABLE',
        `the write reached ${String(acked)} of the ${needed} Redis replicas it needs within ${this.waitTimeoutMs} ms; it is not acknowledged`)
    }
    return reply
  }

  private refreshSoon(): void {
    if (this.closed || this.refreshing !== undefined) return
    this.refresh().catch((err: unknown) => {
      // Keep the last count: a write meanwhile fails on its own if Redis is away.
      this.o.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'redis store: could not read the replica count')
    })
  }

  /** One INFO replication, routed to the node of the store's slot (EXISTS carries the key). */
  private refresh(): Promise<void> {
    const run: Promise<void> = Promise.resolve()
      .then(() => this.client.pipeline().exists(this.o.routeKey).info('replication').exec())
      .then((results) => {
        const [err, info] = results?.[1] ?? [new Error('no INFO reply'), undefined]
        if (err !== null) throw err
        const online = onlineReplicas(String(info))
        if (this.started && online !== this.online) {
          this.o.logger.warn({ from: this.online, to: online }, 'redis store: online replicas changed; writes wait for a majority of them')
        }
        this.online = online
        this.started = true
      })
      .finally(() => { if (this.refreshing === run) this.refreshing = undefined })
    this.refreshing = run
    return run
  }
}
