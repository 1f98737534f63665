import type { AuditEvent } from './event'
import { PartialWriteError, type AuditSink } from './sinks/sink'

/** Where a gap sits in a sink's copy of the chain, and what the event standing for it must say. */
export interface GapSpec {
  /** The hash this sink holds right before the gap: the gap event's `prev`. */
  prev: string
  /** Events lost at this place. */
  lost: number
  /** `hash` of the last lost event: the next event here continues from it. */
  resumeFrom: string
}

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
  /**
   * Builds the `audit.gap` event written in the place of lost events (AuditLog.gapEvent). Without
   * it, losses are counted only and the sink's chain breaks at the gap.
   */
  gapEvent?: (gap: GapSpec) => AuditEvent
  /** Called once a gap event reached the sink, with the count it stands for. */
  onGapWritten?: (lost: number) => void
  /** First and longest wait before a pending gap is written on its own when no events come (ms). */
  gapRetryMs?: { first: number; max: number }
}

export interface SinkQueueStats {
  sink: string
  /** Events waiting or in the write under way. */
  held: number
  dropped: number
  failed: number
  written: number
  /** `audit.gap` events written in the place of lost ones. */
  gaps: number
}

/** Lost events at one place of the queue: written as one `audit.gap` event there. */
interface GapMark {
  readonly gap: true
  after: string
  resumeFrom: string
  lost: number
}

type Entry = AuditEvent | GapMark

function isGap(entry: Entry): entry is GapMark {
  return 'gap' in entry
}

/**
 * The bounded queue between `AuditLog.record` and one sink (DESIGN §3: "the data path never blocks
 * on a sink"; STYLE §10: bounded queues that drop-and-count).
 *
 * Guarantees: `push` is O(1) amortised and never waits; at most `limit` events are held (queued plus
 * in flight), beyond that new events are dropped for this sink only and reported to `onLoss`; events
 * reach the sink in record order; one `write` at a time; the drain starts `lingerMs` after the first
 * waiting event (or on the next turn once a batch is full), so records become a few batched writes.
 *
 * Gaps (docs/audit.md "Gaps"): events dropped for a full queue or lost in a failed write leave a
 * mark at their place in the queue (adjacent losses merge into one mark). A mark is written as one
 * chained `audit.gap` event, in order, before the next event, so the sink's copy stays verifiable
 * and says how many events it lacks. A mark that cannot be written yet stays at the head; when no
 * events follow, it is retried on its own with a backoff, so a sink that comes back records its gap
 * without waiting for traffic. A write rejected with PartialWriteError (some of a Redis pipeline
 * failed, which ones unknown) is counted only: there is no single place to mark.
 */
export class SinkQueue {
  private items: Entry[] = []
  /** Events (not marks) in `items`. */
  private queued = 0
  private inFlight = 0
  /** A drain is scheduled (on the next turn, or when `lingering` fires). */
  private scheduled = false
  private lingering: NodeJS.Timeout | undefined
  private retry: NodeJS.Timeout | undefined
  private retryMs: number
  private running = false
  private closed = false
  private idleWaiters: (() => void)[] = []
  private readonly counts = { dropped: 0, failed: 0, written: 0, gaps: 0 }

  constructor(readonly sink: AuditSink, private readonly opts: SinkQueueOptions) {
    this.retryMs = opts.gapRetryMs?.first ?? 1000
  }

  push(event: AuditEvent): void {
    if (this.closed || this.queued + this.inFlight >= this.opts.limit) {
      this.counts.dropped++
      if (!this.closed) this.markLost([event])
      this.opts.onLoss(1, this.closed ? 'closed' : 'queue-full')
      return
    }
    this.items.push(event)
    this.queued++
    this.schedule()
  }

  stats(): SinkQueueStats {
    return { sink: this.sink.name, held: this.queued + this.inFlight, ...this.counts }
  }

  /** Resolves once no event is held (a gap mark waiting for its retry does not count). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Tries once more to write a pending gap mark (at close: the sink may be back by now). */
  async writePendingGap(): Promise<void> {
    if (this.closed || this.running || this.items.length === 0) return
    await this.drain()
  }

  /** Refuses further events; those still waiting are counted as lost. The in-flight write is left alone. */
  abandon(): void {
    this.closed = true
    clearTimeout(this.retry)
    const lost = this.queued
    this.items = []
    this.queued = 0
    if (lost > 0) {
      this.counts.dropped += lost
      this.opts.onLoss(lost, 'closed')
    }
  }

  private isIdle(): boolean {
    return !this.running && !this.scheduled && this.queued === 0
  }

  /** Records `entries` (in chain order, taken from the head of the queue or dropped at its tail) as lost. */
  private markLost(entries: Entry[], atHead = false): void {
    if (this.opts.gapEvent === undefined || entries.length === 0) return
    const first = entries[0] as Entry
    const last = entries[entries.length - 1] as Entry
    const mark: GapMark = {
      gap: true,
      after: isGap(first) ? first.after : first.prev,
      resumeFrom: isGap(last) ? last.resumeFrom : last.hash,
      lost: entries.reduce((n, e) => n + (isGap(e) ? e.lost : 1), 0),
    }
    // A mark next to this one covers the events right after (at the head) or right before (at the tail).
    const neighbour = atHead ? this.items[0] : this.items[this.items.length - 1]
    if (neighbour !== undefined && isGap(neighbour)) {
      if (atHead) neighbour.after = mark.after
      else neighbour.resumeFrom = mark.resumeFrom
      neighbour.lost += mark.lost
    } else if (atHead) {
      this.items.unshift(mark)
    } else {
      this.items.push(mark)
    }
  }

  private schedule(): void {
    if (this.running) return
    // Waiting is for small batches: a full one, or a queue half way to its bound, goes at once.
    const full = this.queued >= Math.min(this.opts.batchSize, this.opts.limit / 2)
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
    clearTimeout(this.retry)
    this.retry = undefined
    while (this.items.length > 0 && !this.closed) {
      const entries = this.items.length <= this.opts.batchSize ? this.items : this.items.slice(0, this.opts.batchSize)
      this.items = entries === this.items ? [] : this.items.slice(entries.length)
      const events = entries.reduce((n, e) => n + (isGap(e) ? 0 : 1), 0)
      this.queued -= events
      this.inFlight = events
      const batch = entries.map((e) => (isGap(e) ? this.gapEventFor(e) : e))
      let failed = false
      try {
        await this.sink.write(batch)
        this.counts.written += events
        for (const e of entries) {
          if (!isGap(e)) continue
          this.counts.gaps++
          this.opts.onGapWritten?.(e.lost)
        }
        this.retryMs = this.opts.gapRetryMs?.first ?? 1000
      } catch (err) {
        failed = true
        if (err instanceof PartialWriteError) {
          const lost = Math.min(err.lost, events)
          this.counts.failed += lost
          this.counts.written += events - lost
          if (lost > 0) this.opts.onLoss(lost, 'write-failed', err)
        } else {
          this.counts.failed += events
          this.markLost(entries, true)
          if (events > 0) this.opts.onLoss(events, 'write-failed', err)
        }
      }
      this.inFlight = 0
      // Only a gap mark is left and it could not be written: wait before trying it again.
      if (failed && this.queued === 0) break
    }
    this.running = false
    if (this.items.length > 0 && this.queued === 0 && !this.closed) this.scheduleGapRetry()
    if (this.isIdle()) {
      const waiters = this.idleWaiters
      this.idleWaiters = []
      for (const resolve of waiters) resolve()
    }
  }

  private gapEventFor(mark: GapMark): AuditEvent {
    // markLost only makes marks when gapEvent is set.
    return (this.opts.gapEvent as NonNullable<SinkQueueOptions['gapEvent']>)({ prev: mark.after, lost: mark.lost, resumeFrom: mark.resumeFrom })
  }

  private scheduleGapRetry(): void {
    if (this.retry !== undefined) return
    const wait = this.retryMs
    this.retryMs = Math.min(wait * 2, this.opts.gapRetryMs?.max ?? 30_000)
    this.retry = setTimeout(() => {
      this.retry = undefined
      if (!this.running && !this.scheduled) void this.drain()
    }, wait)
    this.retry.unref()
  }
}
