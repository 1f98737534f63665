/**
 * One token bucket per key (a source address): `burst` tokens at most, refilled at `perSecond`.
 * A connection takes one token; none left = refused. O(1) per take, no timers: a bucket is
 * refilled lazily from the time of its last take.
 *
 * Bounded: at most `maxKeys` buckets are kept. A full bucket is the same as no bucket, so when
 * the map is full the oldest-created bucket is dropped; that source then starts again from a full
 * burst — a bounded leniency, where keeping every address ever seen would be unbounded memory.
 */
export interface BucketRate {
  readonly perSecond: number
  readonly burst: number
}

interface Bucket {
  tokens: number
  /** ms timestamp of the last refill. */
  at: number
}

export const DEFAULT_MAX_KEYS = 100_000

export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>()
  private readonly perMs: number

  constructor(private readonly rate: BucketRate, private readonly maxKeys = DEFAULT_MAX_KEYS) {
    this.perMs = rate.perSecond / 1000
  }

  /** Takes one token for `key`; false when its bucket is empty. */
  take(key: string, now: number): boolean {
    const bucket = this.buckets.get(key)
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxKeys) this.evictOldest()
      this.buckets.set(key, { tokens: this.rate.burst - 1, at: now })
      return true
    }
    const refilled = Math.min(this.rate.burst, bucket.tokens + Math.max(0, now - bucket.at) * this.perMs)
    bucket.at = now
    if (refilled < 1) {
      bucket.tokens = refilled
      return false
    }
    bucket.tokens = refilled - 1
    return true
  }

  get size(): number {
    return this.buckets.size
  }

  private evictOldest(): void {
    const oldest = this.buckets.keys().next()
    if (oldest.done !== true) this.buckets.delete(oldest.value)
  }
}
