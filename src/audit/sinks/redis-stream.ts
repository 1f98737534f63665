import { once } from 'node:events'
import Redis from 'ioredis'
import type { AuditEvent } from '../event'
import { PartialWriteError, type AuditSink } from './sink'

export const DEFAULT_AUDIT_STREAM_KEY = 'portcullis:audit'
export const DEFAULT_AUDIT_STREAM_MAXLEN = 100_000

export interface RedisStreamSinkOptions {
  /** Redis URL; the sink then owns its connection. */
  url?: string
  /** Or a client to share (not closed by the sink). It should have enableOfflineQueue: false. */
  client?: Redis
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
  private readonly client: Redis
  private readonly ownsClient: boolean
  private readonly readyTimeoutMs: number
  private lastConnectionError: Error | undefined

  constructor(opts: RedisStreamSinkOptions) {
    this.name = opts.name ?? 'redis-stream'
    this.key = opts.key ?? DEFAULT_AUDIT_STREAM_KEY
    this.maxLen = opts.maxLen ?? DEFAULT_AUDIT_STREAM_MAXLEN
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 1000
    this.ownsClient = opts.client === undefined
    this.client = opts.client ?? new Redis(opts.url ?? 'redis://127.0.0.1:6379', {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 5000,
      connectTimeout: 5000,
      retryStrategy: (times) => Math.min(times * 200, 5000),
    })
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
    if (lost > 0) {
      throw new PartialWriteError(lost, `XADD failed for ${lost} of ${batch.length} audit events`, {
        cause: failures[0]?.[0] ?? undefined,
      })
    }
  }

  async close(): Promise<void> {
    if (!this.ownsClient) return
    if (this.client.status === 'ready') {
      await this.client.quit().catch(() => this.client.disconnect())
    } else {
      this.client.disconnect()
    }
  }

  /** Waits a bounded time for the connection; the batch fails when Redis is not back by then. */
  private async ready(): Promise<void> {
    if (this.client.status === 'ready') return
    if (this.client.status === 'end') throw new Error('redis-stream sink: connection closed')
    try {
      await once(this.client, 'ready', { signal: AbortSignal.timeout(this.readyTimeoutMs) })
    } catch (err) {
      throw new Error(`redis-stream sink: Redis not ready (${this.lastConnectionError?.message ?? 'timeout'})`, {
        cause: err,
      })
    }
  }
}
