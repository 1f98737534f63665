import type { Logger } from 'pino'
import { PortcullisError } from '../errors'
import type { RedisTarget } from '../store/redis-target'
import type { AuditEvent } from './event'
import { compileFilter, type AuditFilter } from './filter'
import { liveMatcher, queryLimit, type AuditQuery, type AuditQueryResult, type LiveFilter } from './query'
import { openAuditRedis, whenReady, type AuditRedis } from './redis-client'
import { RedisStreamTail } from './redis-tail'
import { DEFAULT_AUDIT_STREAM_KEY } from './sinks/redis-stream'
import { eventOfEntry, type StreamEntry } from './stream-entry'

/** Where the stream is: a URL, or any store topology (url, sentinel, cluster). */
export type RedisAuditQueryOptions = ({ url: string } | { target: RedisTarget }) & RedisAuditQueryTuning

export interface RedisAuditQueryTuning {
  /** The redis-stream sink's key (default portcullis:audit; redis-stream-place.ts). */
  key?: string
  /** Stream entries one query reads at most (default 10 000), whatever it finds. */
  scanCap?: number
  /** Entries per XREVRANGE round trip (default 500). */
  pageSize?: number
  /**
   * How far a stream id's time may be from its event's `time` (default 60 s): an entry is XADDed
   * after its event was recorded (the sink queue batches) and by Redis's clock, not the gateway's.
   */
  slackMs?: number
  /** XREAD BLOCK time of the live tail (default 5 s). */
  blockMs?: number
  /** How long a query waits for a (re)connecting Redis, e.g. during a failover (default 2 s). */
  readyTimeoutMs?: number
  logger?: Logger
}

/**
 * `GET /v1/audit` and its live tail over the Redis stream every replica's redis-stream sink writes
 * (DESIGN §3), so that any replica answers for all of them.
 *
 * A query walks the stream newest to oldest with XREVRANGE between stream ids derived from
 * since/until (entry ids are `ms-seq`, ms = when Redis added it; widened by slackMs, then the exact
 * bounds are applied to each event's own `time`), filters type and instanceId here, and stops at
 * `limit` matches or after `scanCap` entries, so that no query reads the whole stream. Redis
 * unreachable = STORE_UNAVAILABLE (503): the caller may retry. The connection has no offline
 * queue: a query waits at most readyTimeoutMs for it (a Sentinel master being replaced, a Cluster
 * refreshing its slots), never for ever.
 */
export class RedisAuditQuery implements AuditQuery {
  readonly source = 'redis-stream' as const
  readonly key: string
  private readonly client: AuditRedis
  private readonly tail: RedisStreamTail
  private readonly scanCap: number
  private readonly pageSize: number
  private readonly slackMs: number
  private readonly readyTimeoutMs: number
  private lastConnectionError: Error | undefined
  private readonly connectionError = (): Error | undefined => this.lastConnectionError

  constructor(opts: RedisAuditQueryOptions) {
    this.key = opts.key ?? DEFAULT_AUDIT_STREAM_KEY
    this.scanCap = opts.scanCap ?? 10_000
    this.pageSize = opts.pageSize ?? 500
    this.slackMs = opts.slackMs ?? 60_000
    this.readyTimeoutMs = opts.readyTimeoutMs ?? 2_000
    const target = 'target' in opts ? opts.target : { url: opts.url }
    this.client = openAuditRedis(target, 'reader')
    // An unhandled 'error' would kill the process; failures reach the caller through the command.
    this.client.on('error', (err: Error) => {
      this.lastConnectionError = err
    })
    this.tail = new RedisStreamTail({
      target, key: this.key,
      ...(opts.blockMs !== undefined ? { blockMs: opts.blockMs } : {}),
      ...(opts.logger !== undefined ? { logger: opts.logger } : {}),
    })
  }

  async query(filter: AuditFilter): Promise<AuditQueryResult> {
    const compiled = compileFilter(filter)
    const limit = queryLimit(filter.limit)
    const start = compiled.sinceMs === undefined ? '-' : `${Math.max(0, compiled.sinceMs - this.slackMs)}-0`
    let end = compiled.untilMs === undefined ? '+' : `${compiled.untilMs + this.slackMs}-0`
    const newestFirst: AuditEvent[] = []
    let scanned = 0
    let exhausted = false
    while (newestFirst.length < limit && scanned < this.scanCap) {
      const count = Math.min(this.pageSize, this.scanCap - scanned)
      const page = await this.read(end, start, count)
      for (const entry of page) {
        scanned++
        const event = eventOfEntry(entry)
        if (event !== undefined && compiled.matches(event)) newestFirst.push(event)
        if (newestFirst.length === limit) break
      }
      const last = page[page.length - 1]
      if (page.length < count || last === undefined) {
        exhausted = true
        break
      }
      // Exclusive range start (Redis ≥ 6.2): the next page begins just before the last entry read.
      end = `(${last[0]}`
    }
    const items = newestFirst.reverse()
    return !exhausted && newestFirst.length < limit ? { items, scanLimitReached: true } : { items }
  }

  async live(filter: LiveFilter, listener: (event: AuditEvent) => void): Promise<() => void> {
    const matches = liveMatcher(filter)
    try {
      return await this.tail.subscribe((event) => {
        if (matches(event)) listener(event)
      })
    } catch (err) {
      throw new PortcullisError('STORE_UNAVAILABLE', 'the audit stream could not be read', { cause: err })
    }
  }

  async close(): Promise<void> {
    await this.tail.close()
    this.client.disconnect()
  }

  private async read(end: string, start: string, count: number): Promise<StreamEntry[]> {
    try {
      await whenReady(this.client, this.readyTimeoutMs, this.connectionError)
      return (await this.client.xrevrange(this.key, end, start, 'COUNT', count)) as StreamEntry[]
    } catch (err) {
      throw new PortcullisError('STORE_UNAVAILABLE', 'the audit stream could not be read', { cause: err })
    }
  }
}
