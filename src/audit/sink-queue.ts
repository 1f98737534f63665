import type { AuditEvent } from './event'
import { PartialWriteError, type AuditSink } from './sinks/sink'

export interface SinkQueueOptions {
  /** Events held for this sink at most, waiting or being written. */
  limit: number
  /** Events handed to one `write` call at most. */
  batchSize: number
  /**
   * How long the first event of a batch may wait for others (ms; 0: the next turn). A sink write
   * costs a thread-pool round trip or a network round trip whatever its size (≈35 µs of CPU for a
   * file append on the reference machine), so under load a short wait turns one write per event
   * into one write per many. A full batch is written at once.
   */
  lingerMs?: number
  /** Called with the number of events that will never reach the sink, and why. */
  onLoss: (lost: number, cause: 'queue-full' | 'write-failed' | 'closed', err?: unknown) => void
}

export interface SinkQueueStats {
  sink: string
  /** Events waiting or in the write under way. */
  held: number
  dropped: number
  failed: number
  written: number
}

/**
 * The bounded queue between `AuditLog.record` and one sink (DESIGN §3: "the data path never blocks
 * on a sink"; STYLE §10: bounded queues that drop-and-count).
 *
 * Guarantees: `push` is O(1) amortised and never waits; at most `limit` events are held (queued plus
 * in flight), beyond that new events are dropped for this sink only and reported to `onLoss`; events
 * reach the sink in record order; one `write` at a time; the drain starts `lingerMs` after the first
 * waiting event (or on the next turn once a batch is full), so records become a few batched writes.
 */
export class SinkQueue {
  private items: AuditEvent[] = []
  private inFlight = 0
  /** A drain is scheduled (on the next turn, or when `lingering` fires). */
  private scheduled = false
  private lingering: NodeJS.Timeout | undefined
  private running = false
  private closed = false
  private idleWaiters: (() => void)[] = []
  private readonly counts = { dropped: 0, failed: 0, written: 0 }

  constructor(readonly sink: AuditSink, private readonly opts: SinkQueueOptions) {}

  push(event: AuditEvent): void {
    if (this.closed || this.items.length + this.inFlight >= this.opts.limit) {
      this.counts.dropped++
      this.opts.onLoss(1, this.closed ? 'closed' : 'queue-full')
      return
    }
    this.items.push(event)
    this.schedule()
  }

  stats(): SinkQueueStats {
    return { sink: this.sink.name, held: this.items.length + this.inFlight, ...this.counts }
  }

  /** Resolves once nothing is held (or at once when nothing is). */
  idle(): Promise<void> {
    if (!this.running && !this.scheduled && this.items.length === 0) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Refuses further events; those still waiting are counted as lost. The in-flight write is left alone. */
  abandon(): void {
    this.closed = true
    const lost = this.items.length
    this.items = []
    if (lost > 0) {
      this.counts.dropped += lost
      this.opts.onLoss(lost, 'closed')
    }
  }

  private schedule(): void {
    if (this.running) return
    // Waiting is for small batches: a full one, or a queue half way to its bound, goes at once.
    const full = this.items.length >= Math.min(this.opts.batchSize, this.opts.limit / 2)
    if (this.lingering !== undefined && full) {
      clearTimeout(this.lingering)
      this.lingering = undefined
      this.scheduled = false
    }
    if (this.scheduled) return
    this.scheduled = true
    const linger = this.opts.lingerMs ?? 0
    if (full || linger <= 0) setImmediate(() => this.startDrain())
    else this.lingering = setTimeout(() => this.startDrain(), linger)
  }

  private startDrain(): void {
    this.scheduled = false
    this.lingering = undefined
    void this.drain()
  }

  private async drain(): Promise<void> {
    this.running = true
    while (this.items.length > 0) {
      const batch = this.items.length <= this.opts.batchSize ? this.items : this.items.slice(0, this.opts.batchSize)
      this.items = batch === this.items ? [] : this.items.slice(batch.length)
      this.inFlight = batch.length
      try {
        await this.sink.write(batch)
        this.counts.written += batch.length
      } catch (err) {
        const lost = err instanceof PartialWriteError ? Math.min(err.lost, batch.length) : batch.length
        this.counts.failed += lost
        this.counts.written += batch.length - lost
        this.opts.onLoss(lost, 'write-failed', err)
      }
      this.inFlight = 0
    }
    this.running = false
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
