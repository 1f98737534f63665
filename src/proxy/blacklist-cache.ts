import { GLOBAL_SCOPE, type BlacklistRecord } from '../store/records'
import type { Store } from '../store/store'
import { BlacklistIndex } from '../policy/blacklist'

/**
 * The data path's copy of the blacklist: one index, rebuilt from the store whenever an entry
 * changes on any replica, read synchronously by every connection. Entries live under the global
 * scope whatever instance they name (the entry's own `instanceId` scopes it).
 */
export class BlacklistCache {
  private index: BlacklistIndex = BlacklistIndex.EMPTY
  private readonly unsubscribe: () => void
  private reloading: Promise<void> | undefined
  private again = false

  private constructor(private readonly store: Store, private readonly onEntry: (record: BlacklistRecord) => void) {
    this.unsubscribe = store.onChange((event) => {
      if (event.collection !== 'blacklist') return
      if (event.op === 'put') this.onEntry(event.record as BlacklistRecord)
      void this.reload()
    })
  }

  /** `onEntry` is told of every added or changed entry (to close the sessions it now matches). */
  static async load(store: Store, onEntry: (record: BlacklistRecord) => void): Promise<BlacklistCache> {
    const cache = new BlacklistCache(store, onEntry)
    await cache.reload()
    return cache
  }

  current(): BlacklistIndex {
    return this.index
  }

  reload(): Promise<void> {
    // Coalesce bursts: one reload runs, and one more follows if changes arrived meanwhile.
    if (this.reloading !== undefined) {
      this.again = true
      return this.reloading
    }
    this.reloading = (async () => {
      do {
        this.again = false
        this.index = BlacklistIndex.build(await this.store.list('blacklist', GLOBAL_SCOPE))
      } while (this.again)
    })().finally(() => { this.reloading = undefined })
    return this.reloading
  }

  close(): void {
    this.unsubscribe()
  }
}
