import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { Metrics } from '../observability/metrics'
import { AUDIT_GAP_TYPE, GENESIS_PREV, type AuditEvent, type AuditGapDetails, type AuditInput } from './event'
import { computeEventHash, isChainHash } from './hash-chain'
import { RecentRing, type RecentFilter } from './recent-ring'
import { buildAuditEvent } from './build-event'
import { SinkQueue, type GapSpec, type SinkQueueStats } from './sink-queue'
import type { AuditSink } from './sinks/sink'

export interface AuditLogOptions {
  sinks: AuditSink[]
  metrics?: Metrics
  logger?: Logger
  /** Events held per sink before new ones are dropped for it (default 10 000). */
  queueLimit?: number
  /** Events per sink write at most (default 256). */
  batchSize?: number
  /** How long an event may wait for others to share its sink write (ms, default 10; SinkQueue). */
  lingerMs?: number
  /** Events kept in memory for `recent` (default 10 000). */
  recentSize?: number
  /**
   * `prev` of the first event recorded. Default: the `chainHead` of the first sink that has one
   * (the file sink's last line), else GENESIS_PREV, so a file's chain continues across restarts.
   */
  prev?: string
  /** How long `close` waits for the sinks before giving up on what they still hold (default 5 s). */
  closeTimeoutMs?: number
  /**
   * Written as the top-level `chain` member of every event (and so covered by its hash), so that
   * chains of several processes sharing one stream can be told apart (docs/audit.md). Default: none,
   * for a process that owns its sinks alone.
   */
  chainId?: string
}

/** Sink errors are logged at most this often per sink; the metric counts every lost event. */
const ERROR_LOG_INTERVAL_MS = 10_000

/**
 * The audit log (DESIGN §3 "Audit events"): builds each event, links it into the hash chain, keeps
 * the recent ones in memory and hands it to every sink.
 *
 * Guarantees: `record` is synchronous, does not throw and does not wait on any sink — each sink has
 * its own bounded SinkQueue; a full queue or a failed write loses events for that sink only, counted
 * in portcullis_audit_sink_errors_total{sink} and logged (sink name and count, never event contents).
 * The chain is one per AuditLog, in record order, identical on every sink.
 */
export class AuditLog {
  private queues: SinkQueue[]
  private readonly queueOptions: AuditLogOptions
  private readonly ring: RecentRing
  private readonly listeners = new Set<(event: AuditEvent) => void>()
  private readonly lastErrorLog = new Map<string, { at: number; suppressed: number }>()
  private readonly metrics: Metrics | undefined
  private readonly logger: Logger | undefined
  private readonly closeTimeoutMs: number
  private readonly chainId: string | undefined
  private prev: string
  private closing: Promise<void> | undefined

  constructor(opts: AuditLogOptions) {
    this.metrics = opts.metrics
    this.logger = opts.logger
    this.closeTimeoutMs = opts.closeTimeoutMs ?? 5000
    this.chainId = opts.chainId
    this.ring = new RecentRing(opts.recentSize ?? 10_000)
    this.prev = startOfChain(opts)
    this.queueOptions = opts
    this.queues = opts.sinks.map((sink) => this.queueFor(sink))
    this.logger?.info(
      { sinks: opts.sinks.map((sink) => sink.name), continued: this.prev !== GENESIS_PREV, ...(opts.chainId !== undefined ? { chain: opts.chainId } : {}) },
      'audit chain started',
    )
  }

  /** Builds, chains and dispatches one event; returns it as written. */
  record(input: AuditInput): AuditEvent {
    const event = buildAuditEvent(input, this.prev, this.chainId)
    this.prev = event.hash
    this.ring.push(event)
    for (const queue of this.queues) queue.push(event)
    this.metrics?.auditEvents.inc({ type: event.type })
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch (err) {
        this.logger?.warn({ err }, 'audit listener failed')
      }
    }
    return event
  }

  /** Every event from now on, synchronously after it is recorded (`GET /v1/audit/stream`). */
  subscribe(listener: (event: AuditEvent) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** From the in-memory ring only; throws PortcullisError VALIDATION_FAILED on a bad time bound. */
  recent(filter: RecentFilter = {}): AuditEvent[] {
    return this.ring.query(filter)
  }

  /** Per-sink queue counters, for tests and readiness. */
  stats(): SinkQueueStats[] {
    return this.queues.map((queue) => queue.stats())
  }

  /**
   * Reopens every sink that writes to a path (the file sink), e.g. on SIGHUP after logrotate moved
   * the file away. Never rejects: a sink that cannot reopen now keeps trying on its next write.
   * Shared by whatever the signal also does (a config reload may call it too).
   */
  async reopenSinks(): Promise<void> {
    await Promise.all(this.queues.map(async ({ sink }) => {
      try {
        await sink.reopen?.()
      } catch (err) {
        this.logger?.warn({ sink: sink.name, err }, 'audit sink reopen failed')
      }
    }))
  }

  /**
   * A config reload's sinks (audit/sink-set.ts): sinks already here keep their queue untouched,
   * new ones get events from now on (continuing this process's chain), removed ones are flushed
   * within the close deadline and closed.
   */
  async replaceSinks(sinks: readonly AuditSink[]): Promise<void> {
    const byId = new Map(this.queues.map((queue) => [queue.sink, queue]))
    const gone = this.queues.filter((queue) => !sinks.includes(queue.sink))
    this.queues = sinks.map((sink) => byId.get(sink) ?? this.queueFor(sink))
    await withDeadline(Promise.all(gone.map((queue) => queue.idle())), this.closeTimeoutMs)
    for (const queue of gone) queue.abandon()
    await Promise.all(gone.map(async ({ sink }) => {
      try {
        await withDeadline(sink.close(), this.closeTimeoutMs)
      } catch (err) {
        this.logger?.warn({ sink: sink.name, err }, 'audit sink close failed')
      }
    }))
    this.logger?.info({ sinks: sinks.map((sink) => sink.name) }, 'audit sinks replaced by a config reload')
  }

  /** Resolves when every sink has written what it was given, or after `timeoutMs` (default: closeTimeoutMs). */
  async flush(timeoutMs = this.closeTimeoutMs): Promise<void> {
    await withDeadline(Promise.all(this.queues.map((queue) => queue.idle())), timeoutMs)
  }

  /** Flushes within the deadline, drops (and counts) what is left, closes every sink. Idempotent. */
  close(): Promise<void> {
    this.closing ??= this.doClose()
    return this.closing
  }

  private async doClose(): Promise<void> {
    await this.flush()
    // A sink that lost events and is back by now records its gap before it closes.
    await withDeadline(Promise.all(this.queues.map((queue) => queue.writePendingGap())), this.closeTimeoutMs)
    for (const queue of this.queues) queue.abandon()
    await Promise.all(
      this.queues.map(async ({ sink }) => {
        try {
          await withDeadline(sink.close(), this.closeTimeoutMs)
        } catch (err) {
          this.logger?.warn({ sink: sink.name, err }, 'audit sink close failed')
        }
      }),
    )
    this.listeners.clear()
  }

  private queueFor(sink: AuditSink): SinkQueue {
    const opts = this.queueOptions
    return new SinkQueue(sink, {
      limit: opts.queueLimit ?? 10_000,
      batchSize: opts.batchSize ?? 256,
      lingerMs: opts.lingerMs ?? 10,
      onLoss: (lost, cause, err) => this.onLoss(sink.name, lost, cause, err),
      gapEvent: (gap) => this.gapEvent(sink.name, gap),
      onGapWritten: (lost) => {
        this.metrics?.auditEvents.inc({ type: AUDIT_GAP_TYPE })
        this.logger?.warn({ sink: sink.name, lost }, 'audit gap recorded in sink')
      },
    })
  }

  /**
   * The `audit.gap` event one sink writes in the place of events it lost (docs/audit.md "Gaps"). It
   * is chained in that sink's copy only — `prev` is what the sink holds before the gap — so the
   * other sinks and the in-memory ring, which lost nothing, keep the process's chain unchanged.
   */
  private gapEvent(sink: string, gap: GapSpec): AuditEvent {
    const details: AuditGapDetails = { sink, lost: gap.lost, resumeFrom: gap.resumeFrom }
    const body: Omit<AuditEvent, 'hash'> = {
      id: randomUUID(),
      time: new Date().toISOString(),
      ...(this.chainId !== undefined ? { chain: this.chainId } : {}),
      type: AUDIT_GAP_TYPE,
      outcome: 'failure',
      actor: { kind: 'system' },
      details,
      prev: gap.prev,
    }
    return { ...body, hash: computeEventHash(body) }
  }

  private onLoss(sink: string, lost: number, cause: string, err: unknown): void {
    try {
      this.metrics?.auditSinkErrors.inc({ sink }, lost)
      const now = Date.now()
      const last = this.lastErrorLog.get(sink)
      if (last !== undefined && now - last.at < ERROR_LOG_INTERVAL_MS) {
        last.suppressed += lost
        return
      }
      this.lastErrorLog.set(sink, { at: now, suppressed: 0 })
      // Name, count and error only: an event's details must not reach the logs.
      this.logger?.warn({ sink, lost, cause, suppressedSinceLast: last?.suppressed ?? 0, err }, 'audit events lost for sink')
    } catch {
      // Accounting must never break the queue that called it.
    }
  }
}

function startOfChain(opts: AuditLogOptions): string {
  if (opts.prev !== undefined) return opts.prev
  const head = opts.sinks.find((sink) => isChainHash(sink.chainHead))?.chainHead
  return head ?? GENESIS_PREV
}

/** Waits for `work` at most `ms`; never rejects on timeout (the caller carries on). */
async function withDeadline(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms)
  })
  try {
    await Promise.race([work.then(() => undefined), deadline])
  } finally {
    clearTimeout(timer)
  }
}
