import type { AuditEvent } from '../../audit/event'
import { AdaptiveLimit, AdmissionSampler } from './adaptive-limit'

/**
 * At most `limit` handshakes (accept → splice or refusal) in flight in this process. The one after
 * the last slot waits in a bounded FIFO queue for at most `waitMs` and is refused RATE_LIMITED when
 * the queue is full or the wait is over. A slot is held by an opaque holder (the raw socket) and
 * released by it exactly once; releasing a holder that holds nothing is a no-op, so the listener
 * can release every connection when its pipeline ends.
 *
 * `limit` is `max` (limits.maxHandshakesInFlight), or with `adaptive` the lower figure an
 * AdaptiveLimit finds from what the process completes when its event loop is saturated
 * (adaptive-limit.ts): the count that fits the deadline on this core, now, rather than on an idle
 * one.
 *
 * Why the queue is long and its wait seconds (issue 15's storm): a connection refused before TLS
 * is cheap for the gateway but not for the fleet — the device backs off (exponentially, with
 * jitter), and a storm that was refused in thousands came back over seconds while the core sat
 * idle between the waves. Waiting in the queue costs an accepted socket and a timer; the device
 * keeps its place and is served as soon as a slot frees. What the queue must not do is hold a
 * connection it cannot serve in time, so with `adaptive`, once a completion rate has been measured,
 * a newcomer whose turn would come later than `waitMs` at that rate is refused at once, not after
 * waiting for nothing. Before any rate is known, the queue's length and the wait bound it. Either
 * way a refusal is before TLS: a wait never becomes a handshake timed out.
 *
 * Only the overload path allocates (a waiter and its timer); taking a free slot is a counter and
 * a Set insertion.
 */
interface Waiter {
  readonly holder: object
  readonly resolve: (admitted: boolean) => void
  timer: NodeJS.Timeout | undefined
}

export class HandshakeGate {
  private readonly holders = new Set<object>()
  private readonly queue: Waiter[] = []
  private readonly adaptive: AdaptiveLimit | undefined
  private readonly sampler: AdmissionSampler | undefined

  constructor(
    readonly max: number, readonly queueLength: number, readonly waitMs: number,
    adaptive?: { readonly targetMs: number; readonly sampleMs?: number; readonly initial?: number },
  ) {
    if (adaptive !== undefined) {
      this.adaptive = new AdaptiveLimit({ max, targetMs: adaptive.targetMs, ...(adaptive.initial !== undefined ? { initial: adaptive.initial } : {}) })
      this.sampler = new AdmissionSampler(this.adaptive, adaptive.sampleMs)
    }
  }

  /** The number of slots now: `max`, or the adaptive limit under it. */
  get limit(): number {
    return this.adaptive?.current ?? this.max
  }

  /** Handshakes per second this process completed while saturated (adaptive only; 0 before). */
  get completionRate(): number {
    return this.adaptive?.completionRate ?? 0
  }

  /** true: a slot is the holder's now; false: refused at once; a promise: queued. */
  acquire(holder: object): boolean | Promise<boolean> {
    if (this.holders.has(holder)) return true
    if (this.holders.size < this.limit) {
      this.holders.add(holder)
      return true
    }
    this.sampler?.limitReached()
    if (this.queue.length >= this.queueLength || this.waitMs === 0 || this.turnTooLate()) return false
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { holder, resolve, timer: undefined }
      waiter.timer = setTimeout(() => this.giveUp(waiter), this.waitMs)
      this.queue.push(waiter)
    })
  }

  release(holder: object): void {
    if (!this.holders.delete(holder)) return
    this.sampler?.completed()
    // The limit may have fallen since the waiter queued: it then waits for a slot under the new one.
    if (this.holders.size >= this.limit) return
    const waiter = this.queue.shift()
    if (waiter === undefined) return
    clearTimeout(waiter.timer)
    this.holders.add(waiter.holder)
    waiter.resolve(true)
  }

  /**
   * Fed every audit event (off the connection path, as the failed-login throttle is): an admitted
   * handshake that passed its deadline tells the adaptive limit it admitted too many.
   */
  observe(event: AuditEvent): void {
    if (this.sampler !== undefined && event.type === 'connection.rejected' && event.reason === 'HANDSHAKE_TIMEOUT') this.sampler.deadlinePassed()
  }

  close(): void {
    this.sampler?.close()
    for (const waiter of this.queue.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.resolve(false)
    }
  }

  get inFlight(): number {
    return this.holders.size
  }

  get waiting(): number {
    return this.queue.length
  }

  /**
   * Whether a newcomer, behind everyone queued, would reach a slot later than `waitMs` at the rate
   * this process completes handshakes (adaptive only, once measured: slots free at that rate).
   */
  private turnTooLate(): boolean {
    const rate = this.adaptive?.completionRate ?? 0
    return rate > 0 && ((this.queue.length + 1) * 1000) / rate > this.waitMs
  }

  private giveUp(waiter: Waiter): void {
    const at = this.queue.indexOf(waiter)
    if (at >= 0) this.queue.splice(at, 1)
    waiter.resolve(false)
  }
}
