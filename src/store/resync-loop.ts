/**
 * Brings a replica's view back to fresh after the store was lost (DESIGN §4 "Admission on stale
 * state"): when the store is up again, runs the caller's `resync` (re-read every cache, re-check
 * every live session) and only once it has succeeded calls the view fresh.
 *
 * Guarantees:
 * - never gives up: a failing resync is retried with backoff (doubling from `initialDelayMs` to
 *   `maxDelayMs`, with jitter so that replicas do not retry in step) for as long as it fails;
 * - runs only while the store is up: when it drops again, the loop waits for it to come back, and
 *   a retry waiting out its backoff goes at once when it does (the connection is a new one);
 * - one run at a time; a change of connectivity during a run causes one more run (what the run
 *   read may predate changes it missed), however many changes there were;
 * - each failure is logged (warn, with the error's message); nothing rejects unhandled.
 *
 * The loop may listen before it can resync (the composition root builds it as the store opens,
 * and the caches `resync` re-reads later): a loss meanwhile marks the view lost, and `start`
 * then runs the resync it owes.
 */
import type { StoreFreshness } from './freshness'
import type { StoreLogger } from './listeners'
import type { Store } from './store'

export interface ResyncLoopOptions {
  connectivity: Pick<Store, 'onConnectivity'>
  freshness: Pick<StoreFreshness, 'lost' | 'synced'>
  /** Re-reads everything; may be given later with `start`. */
  resync?: () => Promise<void>
  logger: StoreLogger
  /** First retry delay (default 100 ms); doubles per failure up to maxDelayMs (default 5 s). */
  initialDelayMs?: number
  maxDelayMs?: number
}

export class ResyncLoop {
  private up = true
  /** A connectivity change since the current run started. */
  private dirty = false
  private running = false
  private closed = false
  private resync: (() => Promise<void>) | undefined
  private wake: (() => void) | undefined
  private readonly unsubscribe: () => void
  private readonly initialDelayMs: number
  private readonly maxDelayMs: number

  constructor(private readonly o: ResyncLoopOptions) {
    this.initialDelayMs = o.initialDelayMs ?? 100
    this.maxDelayMs = o.maxDelayMs ?? 5_000
    this.resync = o.resync
    this.unsubscribe = o.connectivity.onConnectivity((up) => this.onConnectivity(up))
  }

  /** Sets what a resync does; runs one now if the store was lost and is back since the loop listened. */
  start(resync: () => Promise<void>): void {
    this.resync = resync
    if (this.dirty && this.up) this.kick()
  }

  close(): void {
    this.closed = true
    this.unsubscribe()
    this.wake?.()
  }

  private onConnectivity(up: boolean): void {
    if (this.closed) return
    this.up = up
    this.dirty = true
    if (!up) {
      this.o.freshness.lost()
      return
    }
    this.wake?.()
    this.kick()
  }

  private kick(): void {
    const resync = this.resync
    if (this.running || this.closed || resync === undefined) return
    this.run(resync).catch((err: unknown) => this.o.logger.warn({ err: message(err) }, 'store resync loop failed; resyncs on the next reconnect'))
  }

  private async run(resync: () => Promise<void>): Promise<void> {
    this.running = true
    try {
      let failures = 0
      while (this.up && !this.closed) {
        this.dirty = false
        try {
          await resync()
        } catch (err) {
          failures++
          const delayMs = this.delay(failures)
          this.o.logger.warn({ err: message(err), failures, retryInMs: delayMs }, 'store resync failed; retrying')
          await this.sleep(delayMs)
          continue
        }
        if (this.dirty) continue // connectivity changed meanwhile: run once more (or wait, if down)
        if (!this.closed) this.o.freshness.synced()
        return
      }
    } finally {
      this.running = false
    }
  }

  /** Equal jitter: half the doubled delay plus a random part of the other half. */
  private delay(failures: number): number {
    const base = Math.min(this.initialDelayMs * 2 ** (failures - 1), this.maxDelayMs)
    return Math.round(base / 2 + Math.random() * (base / 2))
  }

  /** Resolves after `ms`, or at once when the store comes back or the loop closes. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.wake = undefined
        resolve()
      }
      const timer = setTimeout(done, ms)
      timer.unref()
      this.wake = done
    })
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
