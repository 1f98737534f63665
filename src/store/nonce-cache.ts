/**
 * In-memory nonce claims for the embedded store (admin request signing: a nonce is never accepted
 * twice within the date window, DESIGN §3).
 *
 * Fail closed: when the cache is full of unexpired nonces a new claim is refused rather than an
 * old one evicted, because eviction would let that old nonce be replayed.
 */
const SWEEP_INTERVAL_MS = 60_000

export class NonceCache {
  private readonly expiries = new Map<string, number>()
  private readonly timer: NodeJS.Timeout

  constructor(private readonly maxEntries = 200_000, private readonly now: () => number = Date.now) {
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS)
    this.timer.unref()
  }

  claim(nonce: string, ttlMs: number): boolean {
    const now = this.now()
    const expiry = this.expiries.get(nonce)
    if (expiry !== undefined && expiry > now) return false
    if (expiry === undefined && this.expiries.size >= this.maxEntries) {
      this.sweep()
      if (this.expiries.size >= this.maxEntries) return false
    }
    this.expiries.set(nonce, now + ttlMs)
    return true
  }

  get size(): number {
    return this.expiries.size
  }

  sweep(): void {
    const now = this.now()
    for (const [nonce, expiry] of this.expiries) {
      if (expiry <= now) this.expiries.delete(nonce)
    }
  }

  close(): void {
    clearInterval(this.timer)
    this.expiries.clear()
  }
}
