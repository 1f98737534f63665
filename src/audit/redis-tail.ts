import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import type { RedisTarget } from '../store/redis-target'
import type { AuditEvent } from './event'
import { openAuditRedis, whenReady, type AuditRedis } from './redis-client'
import { eventOfEntry, type StreamEntry } from './stream-entry'

export interface RedisStreamTailOptions {
  /** Any store topology (url, sentinel, cluster): redis-client.ts. */
  target: RedisTarget
  key: string
  /** How long one XREAD waits for new entries (default 5 s); also how soon a stop is noticed at worst. */
  blockMs?: number
  /** Entries per XREAD at most (default 500). */
  count?: number
  /** How long a first subscriber waits for the connection before the tail fails (default 5 s). */
  startTimeoutMs?: number
  logger?: Logger
}

/** Pause before reading again after a failed XREAD (Redis down or restarting). */
const RETRY_MS = 1000

/**
 * The live tail of the audit stream (`GET /v1/audit/stream` with a redis-stream sink): new entries
 * of every replica, read with `XREAD BLOCK` on a connection of its own (a blocked connection can
 * serve nothing else) and fanned out to every subscriber of this process. One loop per process,
 * however many SSE clients: it starts with the first subscriber and stops with the last.
 *
 * No entry is skipped between two reads: the loop reads from the id it last saw, starting at the
 * stream's last id when it starts (not `$`, which would skip entries added between two reads).
 * While Redis is down the loop retries every second and its subscribers simply see nothing; when it
 * is back they receive what was added meanwhile (as far as MAXLEN trimming kept it). That holds
 * across a Sentinel failover or a Cluster slot failing over too, for what the new master holds:
 * entries the old master acknowledged but never replicated are gone (Redis replication is
 * asynchronous), and later ones are still read, since their ids (Redis's clock) are higher.
 */
export class RedisStreamTail {
  private readonly listeners = new Set<(event: AuditEvent) => void>()
  private readonly blockMs: number
  private readonly count: number
  private connection: AuditRedis | undefined
  private startup: Promise<void> | undefined
  private running: Promise<void> | undefined
  private closed = false

  constructor(private readonly opts: RedisStreamTailOptions) {
    this.blockMs = opts.blockMs ?? 5000
    this.count = opts.count ?? 500
  }

  /** The returned promise settles once the loop knows where the stream ends: later entries are seen. */
  async subscribe(listener: (event: AuditEvent) => void): Promise<() => void> {
    if (this.closed) throw new Error('audit stream tail closed')
    this.listeners.add(listener)
    const unsubscribe = (): void => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.stop()
    }
    try {
      await this.start()
    } catch (err) {
      unsubscribe()
      throw err
    }
    return unsubscribe
  }

  async close(): Promise<void> {
    this.closed = true
    this.listeners.clear()
    this.stop()
    await this.running
  }

  /** Starts the loop unless it runs; resolves when its start position is known. */
  private start(): Promise<void> {
    if (this.connection !== undefined && this.startup !== undefined) return this.startup
    // Blocking reads: no per-command timeout, and no retry of a command on another connection.
    const connection = openAuditRedis(this.opts.target, 'blocking')
    connection.on('error', (err: Error) => this.opts.logger?.debug({ err: err.message }, 'audit stream tail: redis error'))
    this.connection = connection
    this.startup = new Promise<void>((resolve, reject) => {
      this.running = this.loop(connection, resolve, reject).finally(() => {
        connection.disconnect()
        if (this.connection === connection) this.connection = undefined
      })
    })
    return this.startup
  }

  private stop(): void {
    // Ends the XREAD under way at once; the loop sees the connection is no longer current and exits.
    const connection = this.connection
    this.connection = undefined
    connection?.disconnect()
  }

  private async loop(connection: AuditRedis, started: () => void, failed: (err: unknown) => void): Promise<void> {
    let lastId: string
    try {
      await whenReady(connection, this.opts.startTimeoutMs ?? 5_000)
      const [last] = (await connection.xrevrange(this.opts.key, '+', '-', 'COUNT', 1)) as StreamEntry[]
      lastId = last?.[0] ?? '0-0'
      started()
    } catch (err) {
      failed(err)
      return
    }
    while (this.connection === connection) {
      let answer: Array<[string, StreamEntry[]]> | null
      try {
        answer = (await connection.xread('COUNT', this.count, 'BLOCK', this.blockMs, 'STREAMS', this.opts.key, lastId)) as Array<[string, StreamEntry[]]> | null
      } catch (err) {
        if (this.connection !== connection) return
        this.opts.logger?.warn({ err: (err as Error).message }, 'audit stream tail: XREAD failed, retrying')
        await sleep(RETRY_MS)
        continue
      }
      for (const entry of answer?.[0]?.[1] ?? []) {
        lastId = entry[0]
        const event = eventOfEntry(entry)
        if (event !== undefined) this.dispatch(event)
      }
    }
  }

  private dispatch(event: AuditEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch (err) {
        this.opts.logger?.warn({ err }, 'audit stream listener failed')
      }
    }
  }
}
