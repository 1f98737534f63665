import type { RedisTarget } from '../../store/redis-target'
import type { AuditEvent } from '../event'
import { closeAuditRedis, openAuditRedis, whenReady, type AuditRedis } from '../redis-client'
import { PartialWriteError, type AuditSink } from './sink'

export const DEFAULT_AUDIT_STREAM_KEY = 'portcullis:audit'
export const DEFAULT_AUDIT_STREAM_MAXLEN = 100_000

export interface RedisStreamSinkOptions {
  /** Redis URL; the sink then owns its connection. */
  url?: string
  /** Or any store topology (url, sentinel, cluster); the sink then owns its connection. */
  target?: RedisTarget
  /** Or a client to share (not closed by the sink). It should have enableOfflineQueue: false. */
  client?: AuditRedis
  key?: string
  maxLen?: number
  /** How long one write waits for a (re)connecting Redis before failing the batch. */
  readyTimeoutMs?: number
  name?: string
}

/**
 * Audit events into a Redis Stream (DESIGN §3 `{kind: redis-stream, key?, maxLen?}`): per event
 * `XADD key MAXLEN ~ maxLen * event <json>`, a batch pipelined in one round trip. `~` lets Redis trim
 * whole macro nodes, which is far cheaper than exact trimming; the stream holds at least maxLen.
 * On a Cluster the pipeline is legal because every XADD names the one stream key (one slot); on
 * Sentinel the connection follows the master through failovers (redis-client.ts).
 *
 * A dead Redis must neither block nor crash the gateway: the offline queue is off (a command while
 * disconnected fails at once instead of piling up in memory), a write waits at most readyTimeoutMs
 * for a reconnect, every command has a timeout, and connection errors are absorbed here (an
 * unhandled 'error' event would kill the process). Failed batches are rejected and counted by the
 * SinkQueue; the client keeps reconnecting in the background.
 */
export class RedisStreamSink implements AuditSink {
  readonly name: string
  readonly key: string
  readonly maxLen: number
  private readonly client: AuditRedis
  private readonly ownsClient: boolean
  private readonly readyTimeoutMs: number
  private lastConnectionError: Error | undefined
  private readonly connectionError = (): Error | undefined => this.lastConnectionError

  constructor(opts: RedisStreamSinkOptions) {
    this.name = opts.name ?? 'redis-stream'
    this.key = opts.key ?? DEFAULT_AUDIT_STREAM_KEY
    this.maxLen = opts.maxLen ?? DEFAULT_AUDIT_STREAM_MAXLEN
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 1000
    this.ownsClient = opts.client === undefined
    this.client = opts.client ?? openAuditRedis(opts.target ?? { url: opts.url ?? 'redis://127.0.0.1:6379' }, 'writer')
    this.client.on('error', (err: Error) => {
      this.lastConnectionError = err
    })
  }

  async write(batch: AuditEvent[]): Promise<void> {
    await this.ready()
    const pipeline = this.client.pipeline()
    for (const event of batch) {
      pipeline.xadd(this.key, 'MAXLEN', '~', String(this.maxLen), '*', 'event', JSON.stringify(event))
    }
    const results = (await pipeline.exec()) ?? []
    const failures = results.filter(([err]) => err !== null)
    const lost = failures.length + Math.max(0, batch.length - results.length)
    // None written (a Cluster slot whose master just died answers every XADD with an error, rather
    // than failing the pipeline): the whole batch is lost in one piece, so the queue can put an
    // audit.gap in its place. Only a true partial loss is counted without a gap.
    if (lost === batch.length && lost > 0) {
      throw new Error(`redis-stream sink: XADD failed for all ${lost} audit events`, { cause: failures[0]?.[0] ?? undefined })
    }
    if (lost > 0) {
      throw new PartialWriteError(lost, `XADD failed for ${lost} of ${batch.length} audit events`, {
        cause: failures[0]?.[0] ?? undefined,
      })
    }
  }

  async close(): Promise<void> {
    if (this.ownsClient) await closeAuditRedis(this.client)
  }

  /** Waits a bounded time for the connection; the batch fails when Redis is not back by then. */
  private async ready(): Promise<void> {
    try {
      await whenReady(this.client, this.readyTimeoutMs, this.connectionError)
    } catch (err) {
      throw new Error(`redis-stream sink: ${(err as Error).message}`, { cause: err })
    }
  }
}
