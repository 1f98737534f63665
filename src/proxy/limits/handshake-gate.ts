/**
 * At most `max` handshakes (accept → splice or refusal) in flight in this process. The one after
 * the last slot waits in a bounded queue for at most `waitMs` — a short burst is smoothed, not
 * refused — and is refused RATE_LIMITED when the queue is full or the wait is over. A slot is held
 * by an opaque holder (the raw socket) and released by it exactly once; releasing a holder that
 * holds nothing is a no-op, so the listener can release every connection when its pipeline ends.
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

  constructor(readonly max: number, readonly queueLength: number, readonly waitMs: number) {}

  /** true: a slot is the holder's now; false: refused at once; a promise: queued. */
  acquire(holder: object): boolean | Promise<boolean> {
    if (this.holders.has(holder)) return true
    if (this.holders.size < this.max) {
      this.holders.add(holder)
      return true
    }
    if (this.queue.length >= this.queueLength || this.waitMs === 0) return false
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = { holder, resolve, timer: undefined }
      waiter.timer = setTimeout(() => this.giveUp(waiter), this.waitMs)
      this.queue.push(waiter)
    })
  }

  release(holder: object): void {
    if (!this.holders.delete(holder)) return
    const waiter = this.queue.shift()
    if (waiter === undefined) return
    clearTimeout(waiter.timer)
    this.holders.add(waiter.holder)
    waiter.resolve(true)
  }

  get inFlight(): number {
    return this.holders.size
  }

  get waiting(): number {
    return this.queue.length
  }

  private giveUp(waiter: Waiter): void {
    const at = this.queue.indexOf(waiter)
    if (at >= 0) this.queue.splice(at, 1)
    waiter.resolve(false)
  }
}
