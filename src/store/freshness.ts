/**
 * How fresh this replica's view of the store is (DESIGN §4 "Admission on stale state").
 *
 * The caches the data path decides from (CA/device state, AccessKeys, blacklist, tunnel rules) are
 * kept exact by change notifications. While the store is lost, notifications are missed (Redis
 * pub/sub does not replay), so the caches may be wrong; they may still admit for `maxStaleMs`
 * (a short blip should not refuse every client), and past it they may not. The view is fresh again
 * only once everything was re-read after the store came back (resync-loop.ts calls `synced`), not
 * when the connection is back: a reconnected replica that has not re-read is as stale as a lost one.
 *
 *   fresh ──lost()──▶ reconnecting ──(maxStaleMs after `since`)──▶ stale
 *     ▲                    │                                        │
 *     └────synced()────────┴────────────────synced()────────────────┘
 */
import type { StoreLogger } from './listeners'

export type FreshnessState =
  | { readonly name: 'fresh' }
  /** The store was lost at `since` (ms epoch), or is back but not yet re-read, within maxStaleMs. */
  | { readonly name: 'reconnecting'; readonly since: number }
  /** Lost (or not re-read) for maxStaleMs or longer. */
  | { readonly name: 'stale'; readonly since: number }

export interface StoreFreshnessOptions {
  maxStaleMs: number
  now?: () => number
  /** Where a throwing change listener is reported. */
  logger?: StoreLogger
}

const FRESH: FreshnessState = Object.freeze({ name: 'fresh' })

export class StoreFreshness {
  /** When the view stopped being fresh; undefined while fresh. The whole state derives from it. */
  private since: number | undefined
  private reported: FreshnessState['name'] = 'fresh'
  private staleTimer: NodeJS.Timeout | undefined
  private readonly listeners = new Set<(state: FreshnessState) => void>()
  private readonly maxStaleMs: number
  private readonly now: () => number
  private readonly logger: StoreLogger | undefined

  constructor(opts: StoreFreshnessOptions) {
    if (!(opts.maxStaleMs > 0)) throw new RangeError(`maxStaleMs must be positive, got ${opts.maxStaleMs}`)
    this.maxStaleMs = opts.maxStaleMs
    this.now = opts.now ?? Date.now
    this.logger = opts.logger
  }

  state(now: number = this.now()): FreshnessState {
    const since = this.since
    if (since === undefined) return FRESH
    return now - since < this.maxStaleMs ? { name: 'reconnecting', since } : { name: 'stale', since }
  }

  /**
   * True while cached decisions may admit a connection: fresh, or lost less than maxStaleMs ago.
   * On the connection hot path: a comparison, no allocation.
   */
  admits(now?: number): boolean {
    const since = this.since
    return since === undefined || (now ?? this.now()) - since < this.maxStaleMs
  }

  /** The store was lost (or its view can no longer be trusted). Idempotent: keeps the first `since`. */
  lost(now: number = this.now()): void {
    if (this.since !== undefined) return
    this.since = now
    this.report()
    this.armStaleTimer()
  }

  /** Everything was re-read after the store came back: fresh again. */
  synced(): void {
    if (this.since === undefined) return
    this.since = undefined
    clearTimeout(this.staleTimer)
    this.staleTimer = undefined
    this.report()
  }

  /** Called on every change of state name (fresh / reconnecting / stale). Returns an unsubscribe. */
  onChange(listener: (state: FreshnessState) => void): () => void {
    const entry = (state: FreshnessState): void => listener(state)
    this.listeners.add(entry)
    return () => { this.listeners.delete(entry) }
  }

  close(): void {
    clearTimeout(this.staleTimer)
    this.staleTimer = undefined
    this.listeners.clear()
  }

  /**
   * Nothing happens at the moment reconnecting turns stale, so a timer tells the listeners (the
   * gauge). It re-arms if it fires a little early; `admits` and `state` never depend on it.
   */
  private armStaleTimer(): void {
    const since = this.since
    if (since === undefined) return
    this.staleTimer = setTimeout(() => {
      this.staleTimer = undefined
      if (this.since !== since) return
      if (this.state().name === 'stale') this.report()
      else this.armStaleTimer()
    }, Math.max(1, since + this.maxStaleMs - this.now()))
    this.staleTimer.unref()
  }

  private report(): void {
    const state = this.state()
    if (state.name === this.reported) return
    this.reported = state.name
    for (const listener of [...this.listeners]) {
      try {
        listener(state)
      } catch (err) {
        this.logger?.warn({ err }, 'store freshness listener threw; the others still run')
      }
    }
  }
}
