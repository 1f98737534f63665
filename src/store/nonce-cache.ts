/**
 * Nonce claims for the embedded store (admin request signing: a nonce is never accepted twice
 * within the date window, DESIGN §3 and §4 "Admin nonces are remembered in the store for the
 * whole signature window, so a replay is refused across restarts").
 *
 * NonceCache is the in-memory table; NonceLog makes it durable: each claim is appended to
 * `<dataDir>/nonces.log` (`{"n": nonce, "e": expiry ms}` lines, fsync'd) before it is answered,
 * and the file is replayed when the store is opened again, so a signed request captured before a
 * restart is still refused after it. Expired lines are dropped when the file is compacted (on open
 * and once it holds many more lines than live nonces). Nonces are not secrets (they travel in a
 * request header), so the file needs no sealing; it lives under the data directory's lock.
 *
 * Fail closed: when the table is full of unexpired nonces a new claim is refused rather than an
 * old one evicted, because eviction would let that old nonce be replayed; a claim that cannot be
 * written is refused too (STORE_UNAVAILABLE), because an unrecorded nonce could be replayed after
 * a restart.
 */
import { PortcullisError } from '../errors'
import { AppendLog } from './append-log'

const SWEEP_INTERVAL_MS = 60_000
export const NONCE_LOG_FILE = 'nonces.log'
/** Compact once the file has this many lines past its snapshot and twice the live nonces. */
const COMPACT_AFTER_APPENDS = 10_000

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

  /** Restores a claim read back from the log (expired ones are ignored). */
  restore(nonce: string, expiry: number): void {
    if (expiry > this.now()) this.expiries.set(nonce, expiry)
  }

  /** Takes back a claim whose write failed, so the same request can be retried. */
  release(nonce: string): void {
    this.expiries.delete(nonce)
  }

  expiryOf(nonce: string): number | undefined {
    return this.expiries.get(nonce)
  }

  get size(): number {
    return this.expiries.size
  }

  /** The live claims, as log lines. */
  *entries(): Generator<NonceLine> {
    const now = this.now()
    for (const [n, e] of this.expiries) if (e > now) yield { n, e }
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

interface NonceLine {
  n: string
  e: number
}

function isNonceLine(value: unknown): value is NonceLine {
  const v = value as Partial<NonceLine> | null
  return typeof v?.n === 'string' && typeof v.e === 'number' && Number.isFinite(v.e)
}

/** NonceCache persisted in `<dir>/nonces.log`; claims are written one at a time, in call order. */
export class NonceLog {
  private writes: Promise<unknown> = Promise.resolve()

  private constructor(private readonly cache: NonceCache, private readonly log: AppendLog) {}

  static async open(dir: string, opts: { maxEntries?: number; now?: () => number } = {}): Promise<NonceLog> {
    const cache = new NonceCache(opts.maxEntries, opts.now)
    try {
      // A torn last line is a claim that was never answered: dropping it lets nothing replay.
      const { values } = await AppendLog.read(dir, NONCE_LOG_FILE)
      for (const value of values) if (isNonceLine(value)) cache.restore(value.n, value.e)
      return new NonceLog(cache, await AppendLog.create(dir, NONCE_LOG_FILE, cache.entries()))
    } catch (err) {
      cache.close()
      throw new PortcullisError('STORE_UNAVAILABLE', `could not open ${NONCE_LOG_FILE} in ${dir}`, { cause: err })
    }
  }

  /** True the first time within ttlMs; resolves only once the claim is on disk. */
  claim(nonce: string, ttlMs: number): Promise<boolean> {
    // Decided synchronously, so two concurrent claims of one nonce cannot both pass.
    if (!this.cache.claim(nonce, ttlMs)) return Promise.resolve(false)
    const expiry = this.cache.expiryOf(nonce) ?? 0
    const run = this.writes.then(async () => {
      try {
        await this.log.append({ n: nonce, e: expiry })
      } catch (err) {
        this.cache.release(nonce)
        throw new PortcullisError('STORE_UNAVAILABLE', 'could not record the request nonce', { cause: err })
      }
      await this.compactIfLarge()
      return true
    })
    this.writes = run.catch(() => undefined)
    return run
  }

  get size(): number {
    return this.cache.size
  }

  async close(): Promise<void> {
    await this.writes
    this.cache.close()
    await this.log.close()
  }

  private async compactIfLarge(): Promise<void> {
    const appended = this.log.appendedSinceRewrite
    if (appended < COMPACT_AFTER_APPENDS || appended < 2 * this.cache.size) return
    this.cache.sweep()
    // A failed compaction leaves the complete old file in use; it is retried after the next claim.
    await this.log.rewrite(this.cache.entries()).catch(() => undefined)
  }
}
